#pragma once

#include "catalog/device_directory.hpp"
#include "catalog/login_backoff.hpp"
#include "catalog/thing_model.hpp"
#include "fleet/fleet.hpp"
#include "http/actions.hpp"
#include "http/api_error.hpp"
#include "http/authenticator.hpp"
#include "http/params.hpp"
#include "http/rate_limiter.hpp"
#include "http/render.hpp"
#include "kit/histogram.hpp"
#include "kit/limit_counters.hpp"
#include "kit/log_throttle.hpp"
#include "rrpc/async_calls.hpp"
#include "rrpc/call_log.hpp"
#include "rrpc/service.hpp"
#include "store/journal.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace rrpcd::http {

/// What the API counts (the metrics): latency and outcome by action, refused credentials by code.
struct api_stats {
    std::map<std::string, kit::histogram, std::less<>> latency;          ///< by action
    std::map<std::pair<std::string, std::string>, std::uint64_t> calls;  ///< action, outcome
    std::map<std::string, std::uint64_t, std::less<>> auth_failures;     ///< by error code
};

/// The Alibaba Cloud IoT RPC API (version 2018-01-20) over Beast message types: parameters from
/// query and form body, both signature schemes, the actions RRpc, AsyncRRpc, InvokeThingService
/// and QueryMessageInfo with the cloud's QPS limits, and the cloud's JSON/XML bodies and error
/// codes; plus `GET /v1/calls/{MessageId}` (HTTP Basic). Knows no sockets. Any thread: its own
/// state (limits, QPS buckets, refusal lines, counts) is under one lock, held for a few map
/// operations and never across an action.
class api {
public:
    using request = boost::beast::http::request<boost::beast::http::string_body>;

    /// `backoff` is shared with the device logins and the console's sign-ins.
    api(api_limits limits, authenticator& auth, catalog::login_backoff& backoff,
        api_services services, std::shared_ptr<spdlog::logger> log);

    /// Answers one request from `peer` (`address:port`, for the access line); never throws for
    /// bad input (every failure is a cloud error body).
    boost::asio::awaitable<response> handle(request req, std::string_view peer = {});

    /// Checks the credentials of a request from `from` that does not carry a signature: HTTP
    /// Basic with an access key (the /v1 endpoints, the reply stream, the metrics), or, when
    /// `scrape_token` is set, `Bearer <scrape_token>` (the metrics). Through the login back-off
    /// by address and claimed key, as device logins and console sign-ins are: while blocked it
    /// is refused unchecked (429 `Throttling.Backoff`); a failure counts toward it, is counted
    /// in the metrics (`auth_failures`) and logged, at most 10 lines a minute per address.
    boost::system::result<caller, api_error> authorize(const request& req,
                                                       const boost::asio::ip::address& from,
                                                       std::string_view scrape_token = {});

    /// Runs one action for a caller already authenticated another way (the console's signed-in
    /// session): `params` carry Action and the action's parameters. The same action table, QPS
    /// limits, access line, counts and cloud body as a signed request; JSON.
    boost::asio::awaitable<response> invoke(const caller& who, request_params params,
                                            std::string_view peer, unsigned version);

    /// The access keys (the console signs in with them, and its sessions end with them).
    const authenticator& keys() const noexcept { return auth_; }

    /// A copy of the counts.
    api_stats stats() const;

    /// A configuration reload's new limits (a request in flight keeps those it started with).
    void set_limits(const api_limits& limits);

    static constexpr std::string_view api_version = "2018-01-20";

private:
    /// What the access line and the response need to know of a request besides its result.
    struct exchange {
        std::string_view action;
        std::string access_key;
        std::string_view peer;
        std::string_view host;
        unsigned version = 11;
        bool keep_alive = true;
        bool v1 = false;  ///< a `/v1/` path (counted under "v1")
        format f = format::json;
        std::string_view device;
    };
    /// Counts, logs and renders `result`.
    response respond(action_result& result, const exchange& x, std::string_view request_id,
                     std::chrono::steady_clock::time_point started);
    /// The action `name` for `who`: the table, the QPS limit, the handler.
    boost::asio::awaitable<action_result> run(const caller& who, std::string_view name,
                                              const request_params& params);
    boost::asio::awaitable<action_result> dispatch(const request& req, std::string_view path,
                                                   const request_params& params);
    /// `GET /v1/calls/{MessageId}`; `access_key` is set to the key that authorised it.
    boost::asio::awaitable<action_result> v1_call(const request& req, std::string_view path,
                                                  std::string_view peer, std::string& access_key);

    mutable std::mutex mutex_;  ///< limits_, limiter_, refusals_, stats_
    api_limits limits_;
    authenticator& auth_;
    catalog::login_backoff& backoff_;
    api_services services_;
    rate_limiter limiter_;
    kit::log_throttle refusals_{10, std::chrono::minutes{1}, 10'000};  ///< per peer address
    api_stats stats_;
    std::shared_ptr<spdlog::logger> log_;
};

/// The JSON of one call record (`GET /v1/calls/{id}`, QueryMessageInfo's extension fields).
boost::json::object describe(const rrpc::call_record& record);

}  // namespace rrpcd::http
