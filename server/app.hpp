#pragma once

#include "config/settings.hpp"
#include "http/api.hpp"
#include "http/authenticator.hpp"
#include "rrpc/device_directory.hpp"
#include "rrpc/message_id.hpp"
#include "rrpc/service.hpp"
#include "server/device_registry.hpp"
#include "server/http_session.hpp"
#include "server/mqtt_session.hpp"
#include "server/webhook.hpp"

#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>

#include <memory>
#include <vector>

namespace rrpcd::server {

/// The whole server on one io_context and one thread (one shard): listeners, sessions, the
/// device registry, the RRPC core and the API. Everything lives here, so nothing needs a lock.
class app {
public:
    /// `models` are the products' thing models, parsed from `settings` (load_thing_models).
    app(config::settings settings, http::thing_models models);

    /// Binds both listeners and prints the ready line with the bound ports. False on failure
    /// (logged).
    bool start();

    /// Serves until SIGINT or SIGTERM; returns the process exit code.
    int run();

private:
    boost::asio::awaitable<void> accept_mqtt();
    /// SIGTERM/SIGINT: stop accepting, let in-flight calls finish (bounded), end the rest with
    /// UNKNOWN, close the devices, stop.
    boost::asio::awaitable<void> shut_down(int signal);
    boost::asio::awaitable<void> accept_http();
    void print_banner() const;

    config::settings settings_;
    std::shared_ptr<spdlog::logger> server_log_, mqtt_log_, http_log_, rrpc_log_;
    rrpc::device_directory devices_;
    http::thing_models models_;
    device_registry registry_;
    rrpc::message_id_generator ids_;
    rrpc::call_log calls_;
    rrpc::reply_hub replies_;
    rrpc::service rrpc_;
    rrpc::async_calls async_;
    http::authenticator auth_;
    http::api api_;
    mqtt_context mqtt_ctx_;
    http_context http_ctx_;
    // Declared after everything the coroutines use, so that it is destroyed before them: its
    // destructor destroys the suspended coroutine frames, whose guards still reach the services.
    boost::asio::io_context io_{1};
    drain_gate gate_{io_.get_executor()};
    std::vector<std::unique_ptr<webhook_sender>> webhooks_;
    boost::asio::ip::tcp::acceptor mqtt_acceptor_{io_};
    boost::asio::ip::tcp::acceptor http_acceptor_{io_};
    boost::asio::signal_set signals_{io_};
};

}  // namespace rrpcd::server
