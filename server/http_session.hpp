#pragma once

#include "config/settings.hpp"
#include "http/api.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace rrpcd::server {

/// What every HTTP session shares. Lives as long as the listener.
struct http_context {
    const config::http_settings& settings;
    http::api& api;
    std::shared_ptr<spdlog::logger> log;
};

/// Serves one HTTP/1.1 connection (keep-alive, pipelining) until the peer leaves, it idles past
/// the idle timeout, or it sends something that is not HTTP (answered with a cloud error body).
boost::asio::awaitable<void> run_http_session(boost::asio::ip::tcp::socket socket,
                                              http_context& ctx);

}  // namespace rrpcd::server
