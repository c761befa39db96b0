#pragma once

#include "catalog/device_directory.hpp"
#include "catalog/thing_model.hpp"
#include "http/api_error.hpp"
#include "http/authenticator.hpp"
#include "http/params.hpp"
#include "http/rate_limiter.hpp"
#include "http/render.hpp"
#include "kit/limit_counters.hpp"
#include "rrpc/async_calls.hpp"
#include "rrpc/call_log.hpp"
#include "rrpc/service.hpp"
#include "store/journal.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace rrpcd::http {

/// Limits the action layer applies to parameters.
struct api_limits {
    std::chrono::milliseconds timeout_min{1000};  ///< RRpc Timeout range
    std::chrono::milliseconds timeout_max{8000};
    std::chrono::milliseconds thing_sync_timeout{8000};  ///< InvokeThingService, callType sync
    std::size_t max_payload_bytes = 256 * 1024 - 512;  ///< what fits one MQTT packet with its topic
    std::size_t max_pending_per_device = 64;           ///< calls waiting for one device
};

/// Thing models by ProductKey.
using thing_models = std::map<std::string, catalog::thing_model, std::less<>>;

/// What the actions act on. All of it lives as long as the api, on the same io thread.
struct api_services {
    rrpc::service& rrpc;
    rrpc::async_calls& async;
    rrpc::call_log& calls;
    rrpc::device_gateway& devices_online;
    catalog::device_directory& devices;
    const thing_models& models;
    kit::limit_counters& counters;
    store::journal& journal;  ///< an accepted QoS 1 message is on disk before the API answers
    /// Ends a device's live session (DeleteDevice: `forget` its queued messages too; DisableThing).
    std::function<void(const catalog::device_key&, bool forget)> disconnect;
};

/// The Alibaba Cloud IoT RPC API (version 2018-01-20) over Beast message types: parameters from
/// query and form body, both signature schemes, the actions RRpc, AsyncRRpc, InvokeThingService
/// and QueryMessageInfo with the cloud's QPS limits, and the cloud's JSON/XML bodies and error
/// codes; plus `GET /v1/calls/{MessageId}` (HTTP Basic). Knows no sockets. io thread only.
class api {
public:
    using request = boost::beast::http::request<boost::beast::http::string_body>;

    api(api_limits limits, authenticator& auth, api_services services,
        std::shared_ptr<spdlog::logger> log);

    /// Answers one request; never throws for bad input (every failure is a cloud error body).
    boost::asio::awaitable<response> handle(request req);

    /// Checks the HTTP Basic credentials of a /v1 request (also the reply stream's).
    boost::system::result<caller, api_error> authorize_basic(const request& req) const {
        return auth_.verify_basic(req);
    }

    /// A configuration reload's new limits.
    void set_limits(const api_limits& limits) noexcept { limits_ = limits; }

    static constexpr std::string_view api_version = "2018-01-20";

private:
    /// A successful action's body (without RequestId/Success).
    struct reply {
        boost::json::object body;
    };
    using action_result = boost::system::result<reply, api_error>;
    using device_result = boost::system::result<const catalog::device_record*, api_error>;

    boost::asio::awaitable<action_result> dispatch(const request& req, std::string_view path,
                                                   const request_params& params);
    boost::asio::awaitable<action_result> rrpc_action(const request_params& params);
    boost::asio::awaitable<action_result> async_rrpc_action(const request_params& params);
    /// Pub: a message to a device topic at QoS 0, or at QoS 1 kept until acknowledged.
    boost::asio::awaitable<action_result> pub_action(const request_params& params);

    // Device management (device_actions.cpp).
    using product_result = boost::system::result<const catalog::product_record*, api_error>;
    product_result find_product(const request_params& params) const;
    /// ONLINE, OFFLINE, UNACTIVE (never logged in) or DISABLE.
    std::string status_of(const catalog::device_record& device) const;
    boost::asio::awaitable<action_result> create_product(const request_params& params);
    action_result query_product(const request_params& params) const;
    boost::asio::awaitable<action_result> register_device(const request_params& params);
    action_result query_device_detail(const request_params& params) const;
    action_result get_device_status(const request_params& params) const;
    action_result batch_get_device_state(const request_params& params) const;
    action_result query_device(const request_params& params) const;
    boost::asio::awaitable<action_result> delete_device(const request_params& params);
    boost::asio::awaitable<action_result> set_disabled(const request_params& params, bool disabled);
    boost::asio::awaitable<action_result> invoke_thing_service(const request_params& params);
    action_result query_message_info(const request_params& params);
    action_result v1_call(const request& req, std::string_view path);

    /// The addressed device from ProductKey + DeviceName (or IotId when `iot_id` allows it),
    /// with the cloud's codes: Null*/InvalidFormatted* and `not_existed`, at HTTP `status`.
    device_result find_device(const request_params& params, unsigned status,
                              const char* not_existed, bool iot_id) const;

    /// `iot.messagebroker.RateLimit` when the device already has as many calls waiting as
    /// allowed; one more would only queue behind them.
    std::optional<api_error> too_many_pending(const catalog::device_key& device);

    api_limits limits_;
    authenticator& auth_;
    api_services services_;
    rate_limiter limiter_;
    std::shared_ptr<spdlog::logger> log_;
};

/// The JSON of one call record (`GET /v1/calls/{id}`, QueryMessageInfo's extension fields).
boost::json::object describe(const rrpc::call_record& record);

}  // namespace rrpcd::http
