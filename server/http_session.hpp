#pragma once

#include "config/settings.hpp"
#include "http/api.hpp"
#include "rrpc/reply_hub.hpp"
#include "server/drain_gate.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace rrpcd::server {

/// What every HTTP session shares. Lives as long as the listener.
struct http_context {
    const config::http_settings& settings;
    http::api& api;
    rrpc::reply_hub& replies;  ///< for `GET /v1/replies/stream`
    std::size_t max_queued;    ///< per stream subscriber
    drain_gate& gate;          ///< in-flight requests, for a graceful shutdown
    std::shared_ptr<spdlog::logger> log;
};

/// Serves one HTTP/1.1 connection; `GET /v1/replies/stream` turns it into a Server-Sent Events
/// stream of async replies (HTTP Basic access key). (keep-alive, pipelining) until the peer leaves,
/// it idles past the idle timeout, or it sends something that is not HTTP (answered with a cloud
/// error body).
boost::asio::awaitable<void> run_http_session(boost::asio::ip::tcp::socket socket,
                                              http_context& ctx);

}  // namespace rrpcd::server
