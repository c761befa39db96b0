#pragma once

#include "config/settings.hpp"
#include "console/site.hpp"
#include "http/api.hpp"
#include "kit/byte_budget.hpp"
#include "kit/connection_limiter.hpp"
#include "kit/limit_counters.hpp"
#include "kit/log_throttle.hpp"
#include "rrpc/call_log.hpp"
#include "rrpc/reply_hub.hpp"
#include "server/drain_gate.hpp"
#include "server/probes.hpp"
#include "server/tls.hpp"
#include "server/uplink.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace rrpcd::server {

/// Renders each async reply as one Server-Sent Event, once for all the streams that carry it:
/// the streams' queues share that text (a stalled stream costs its queue's references, not a
/// copy of every event).
/// One reply as a Server-Sent Event: `id:` its MessageId, `event: reply`, the forwarding JSON.
std::string sse_frame(const rrpc::async_reply& reply);

class sse_frames {
public:
    /// Any thread: every plane's streams share the last frame (one lock).
    std::shared_ptr<const std::string> of(const rrpc::async_reply& reply);

private:
    std::mutex mutex_;
    std::uint64_t message_id_ = 0;
    std::weak_ptr<const std::string> last_;
};

/// What every HTTP session shares. Lives as long as the listener.
struct http_context {
    const config::settings_ptr& settings;  ///< its plane's current snapshot
    http::api& api;
    rrpc::reply_hub& replies;  ///< for `GET /v1/replies/stream`
    sse_frames& frames;        ///< the events the streams share (the node's)
    /// Requests that are not HTTP: logged at most 10 a minute per peer address (the node's).
    kit::log_throttle& malformed_lines;
    /// Replays cost their key (an access key, or a console session's) at most max_queued_bytes
    /// a minute: a client reconnecting in a loop is not replayed in a loop (the node's budget:
    /// every plane's streams draw from it).
    kit::byte_budget& replay_budget;
    std::size_t max_queued;  ///< per stream subscriber
    std::size_t max_queued_bytes;
    drain_gate& gate;  ///< in-flight requests, for a graceful shutdown
    kit::limit_counters& counters;
    /// `GET /metrics`, `/v1/metrics`: Prometheus text (gathered from every plane).
    std::function<boost::asio::awaitable<std::string>()> metrics;
    std::function<std::vector<readiness_check>()> readiness;  ///< `GET /readyz`
    std::shared_ptr<spdlog::logger> log;
    std::size_t streams = 0;  ///< reply streams open now
    /// Where a stream's `Last-Event-ID` replay reads the answered async calls (the store, or
    /// the call log without one; null: no replay), how it renders one, the call log (the
    /// newest answer), and the store's barrier (what was answered is on disk before it is read).
    rrpc::call_archive* archive = nullptr;
    /// The other uplink events a stream may ask for (`?kinds=`); null: none (unit tests).
    uplink_service* uplink = nullptr;
    std::function<rrpc::async_reply(const rrpc::call_record&)> reply_of{};
    const rrpc::call_log* calls = nullptr;
    std::function<boost::asio::awaitable<boost::system::error_code>()> sync{};
    console::site* console = nullptr;  ///< `/console/` (null: none)
    /// Where the console runs (the node's executor), when it is not this session's own.
    boost::asio::any_io_executor console_executor{};
    bool console_elsewhere = false;
};

/// Serves one HTTP/1.1 connection (over TLS when `tls` is set; `slot` is its place among the
/// open connections) with keep-alive and pipelining, until the peer leaves, it idles past the
/// idle timeout, a request takes longer than the header or request timeout, or it sends
/// something that is not HTTP (answered with a cloud error body). `GET /v1/replies/stream`
/// turns it into a Server-Sent Events stream of async replies (HTTP Basic access key).
boost::asio::awaitable<void> run_http_session(boost::asio::ip::tcp::socket socket,
                                              http_context& ctx, tls_context tls,
                                              kit::connection_slot slot);

/// The answer to a connection over the limits, written before closing it.
std::string over_limit_response();

}  // namespace rrpcd::server
