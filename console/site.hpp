#pragma once

#include "catalog/device_directory.hpp"
#include "catalog/login_backoff.hpp"
#include "config/settings.hpp"
#include "console/call_rates.hpp"
#include "console/session_table.hpp"
#include "http/api.hpp"
#include "kit/log_throttle.hpp"
#include "rrpc/call_log.hpp"
#include "rrpc/outbox.hpp"
#include "rrpc/presence.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/thread_pool.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rrpcd::console {

/// The process's figures the overview shows.
struct figures {
    std::size_t online = 0;              ///< devices with a live session
    std::size_t pending = 0;             ///< sync calls waiting for their device
    std::uint64_t presence_changes = 0;  ///< logins and session ends since start
    std::string store;                   ///< "ok", "failing" (its last write failed), "memory"
    std::int64_t started_ms = 0;
};

/// A queued QoS 1 message as a device's page lists it (not its payload).
struct queued_summary {
    std::uint64_t message_id = 0;
    std::string topic;
    std::size_t bytes = 0;
    bool sent = false;
};

/// What the console shows of one device's link.
struct device_live {
    bool online = false;
    /// Its live session (with its subscriptions when asked), or its last one; none if none.
    std::optional<rrpc::session_info> session;
    std::vector<queued_summary> queued;  ///< the oldest queued messages, when asked
    std::size_t queued_total = 0;
};

/// What a call that has not ended waits for, as its timeline says it (`the device's PUBACK of
/// the message on …`), from its record and its device's link (with the oldest queued messages).
std::string waiting_for(const rrpc::call_record& call, const device_live& device);

/// What the console reads of the live sessions and the process; the server implements it,
/// each device read on its own plane (the console runs on the node's executor).
class live_view {
public:
    /// The links of `devices`, in their order; with `queued_listed`, each one's subscriptions
    /// and its oldest `queued_listed` queued messages too.
    virtual boost::asio::awaitable<std::vector<device_live>> devices(
        std::vector<catalog::device_key> devices, std::size_t queued_listed) = 0;
    virtual boost::asio::awaitable<figures> now() = 0;

protected:
    ~live_view() = default;
};

/// The web console at `/console/`: the embedded pages, the sign-in (a console user's name and
/// password, checked with scrypt off the io threads, or an access key id and its secret,
/// checked by the API's authenticator; failures count in the login back-off), the
/// session cookie and CSRF token, and `/console/api/…`, which reads the catalog, the call log
/// and the live view, and runs every action through the API's own action table (its checks,
/// limits and bodies: the console never bypasses them). Beast message types only. io thread.
class site {
public:
    using request = http::api::request;

    site(const config::settings_ptr& settings, http::api& api,
         const catalog::device_directory& devices, rrpc::call_log& calls, live_view& live,
         catalog::login_backoff& backoff, std::shared_ptr<spdlog::logger> log);

    /// `/console`, `/console/…` or `/console?…`.
    static bool is_console(std::string_view target) noexcept;
    /// `GET /console/api/events` (the caller streams it; see signed_in()).
    static bool is_event_stream(const request& req) noexcept;
    /// Where an event stream's replay starts: the `Last-Event-ID` a reconnecting browser sends,
    /// else `?since=` (the page's first connection: 0 is the recent history that fits the
    /// stream's bounds and its replay budget), else none (live only).
    static std::optional<std::uint64_t> replay_from(const request& req);

    /// Answers one console request from `peer` (`address:port`) at `address`; `tls` says
    /// whether the cookie is marked Secure. Never throws for bad input.
    boost::asio::awaitable<http::response> handle(const request& req, std::string_view peer,
                                                  const boost::asio::ip::address& address,
                                                  bool tls);

    /// The signed-in session of a request's `Cookie` header, or nullptr.
    const session* signed_in(std::string_view cookie_header);
    /// The answer to a request without a live session.
    http::response refused(const request& req) const;

    /// Signed-in sessions (the metrics).
    std::size_t sessions() const noexcept { return sessions_.size(); }

    /// Samples the call counts (each second, for the overview's chart).
    void sample();
    /// The event stream's second: the overview and the calls that started or ended since
    /// `seen` (moved on), or nothing once the cookie's session is over.
    boost::asio::awaitable<std::optional<std::string>> stream_tick(std::string_view cookie_header,
                                                                   std::uint64_t& seen);
    /// An `event: calls` with the calls that started or ended since `seen` (a stream's own
    /// cursor in the call log's changes, moved on), or nothing when none did.
    std::optional<std::string> calls_event(std::uint64_t& seen) const;

    /// A query's decoded parameters, in order.
    using query = std::vector<std::pair<std::string, std::string>>;

private:
    boost::asio::awaitable<boost::json::object> overview();
    /// The read endpoints (GET): their JSON, or the console error.
    boost::asio::awaitable<boost::system::result<boost::json::value, http::api_error>> answer_read(
        std::string_view path, const query& q);
    boost::json::object device_row(const catalog::device_record& r, const device_live& live) const;
    /// A page of the device list: names starting with `prefix` (or the device whose IotId it
    /// is), in one product or all, of one status or any, after the cursor.
    struct device_query {
        std::string_view prefix, status, product_key;
        catalog::device_key after;
        std::size_t size = 20;
    };
    boost::asio::awaitable<boost::json::object> devices_page(const device_query& wanted);
    boost::asio::awaitable<boost::json::object> device_page(const catalog::device_record& r,
                                                            boost::json::array calls);
    /// A page of calls, newest first (of one device, or of all when `of` is null), of a kind
    /// and a status when given, created before the call `before` (0: the newest).
    boost::json::object calls_page(const catalog::device_key* of, std::string_view kind,
                                   std::string_view status, std::uint64_t before,
                                   std::size_t limit) const;
    boost::asio::awaitable<http::response> api_call(const request& req, std::string_view path,
                                                    std::string_view peer,
                                                    const boost::asio::ip::address& address,
                                                    bool tls);
    boost::asio::awaitable<http::response> sign_in(const request& req, std::string_view peer,
                                                   const boost::asio::ip::address& address,
                                                   bool tls);

    const config::settings_ptr& settings_;
    http::api& api_;
    const catalog::device_directory& devices_;
    rrpc::call_log& calls_;
    live_view& live_;
    catalog::login_backoff& backoff_;
    std::shared_ptr<spdlog::logger> log_;
    session_table sessions_;
    call_rates rates_;
    kit::log_throttle refusals_{10, std::chrono::minutes{1}, 10'000};  ///< per address
    /// Console users' passwords are checked here, one at a time, off the io threads.
    boost::asio::thread_pool verifier_{1};
    std::size_t verifying_ = 0;  ///< checks queued or running (the node's strand counts them)
    static constexpr std::size_t max_verifying = 8;
    /// What an unknown user's password is checked against (the default cost, no password).
    static constexpr std::string_view unknown_user_hash =
        "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
};

}  // namespace rrpcd::console
