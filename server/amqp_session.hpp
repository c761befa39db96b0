#pragma once

#include "config/settings.hpp"
#include "http/authenticator.hpp"
#include "kit/connection_limiter.hpp"
#include "kit/log_throttle.hpp"
#include "server/tls.hpp"
#include "server/uplink.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace rrpcd::server {

/// What every AMQP session shares. The uplink's strand only, but for the counters.
struct amqp_context {
    amqp_context(uplink_service& u, const http::authenticator& a, config::amqp_settings s,
                 std::shared_ptr<spdlog::logger> l)
        : uplink(u), auth(a), settings(std::move(s)), log(std::move(l)) {}
    uplink_service& uplink;
    const http::authenticator& auth;
    config::amqp_settings settings;
    std::shared_ptr<spdlog::logger> log;
    /// Open connections per clientId (at most settings.max_connections_per_client).
    std::map<std::string, std::size_t, std::less<>> per_client{};
    kit::log_throttle refused_lines{10, std::chrono::minutes{1}, 10'000};
    std::atomic<std::uint64_t> logins{0}, logins_refused{0}, refused_links{0};
};

/// An AMQP 1.0 connection of a server-side subscription consumer (Alibaba's samples unchanged):
/// TLS (or plain on loopback), SASL PLAIN with the platform's signed user name (checked here,
/// through Proton's SASL plugin interface), an Open whose idle-time-out is within bounds, one
/// receiver link within settings.receiver_timeout, then its group's messages as its credit
/// allows. Qpid Proton's connection driver is the protocol engine; this moves its bytes and
/// time. Runs on the uplink's strand.
boost::asio::awaitable<void> run_amqp_session(boost::asio::ip::tcp::socket socket,
                                              amqp_context& ctx, tls_context tls,
                                              kit::connection_slot slot);

}  // namespace rrpcd::server
