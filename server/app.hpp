#pragma once

#include "catalog/device_directory.hpp"
#include "config/settings.hpp"
#include "http/api.hpp"
#include "http/authenticator.hpp"
#include "kit/limit_counters.hpp"
#include "rrpc/message_id.hpp"
#include "rrpc/service.hpp"
#include "server/device_registry.hpp"
#include "server/http_session.hpp"
#include "server/limits.hpp"
#include "server/mqtt_session.hpp"
#include "server/tls.hpp"
#include "server/webhook.hpp"
#include "store/sqlite_store.hpp"

#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

namespace rrpcd::server {

/// The whole server on one io_context and one thread (one shard): listeners, sessions, the
/// device registry, the RRPC core and the API. Everything lives here, so nothing needs a lock.
class app {
public:
    /// `models` are the products' thing models, parsed from `settings` (load_thing_models);
    /// `tls` is the certificate context when `settings` has TLS listeners; `config_path` is
    /// where SIGHUP reloads from (none: the embedded default, which does not change).
    app(config::settings settings, http::thing_models models, tls_context tls,
        std::optional<std::filesystem::path> config_path);
    /// Stops the store's writer while the io_context it wakes still exists.
    ~app();
    app(const app&) = delete;
    app& operator=(const app&) = delete;

    /// Binds the listeners and prints the ready line with the bound ports. False on failure
    /// (logged).
    bool start();

    /// Serves until SIGINT or SIGTERM; returns the process exit code.
    int run();

private:
    /// The store when one is configured (or why it could not be opened), else memory only.
    struct journal_holder {
        std::unique_ptr<rrpcd::store::sqlite_store> store;
        std::string error;
        store::memory_journal memory;
        store::journal& get() noexcept {
            return store ? static_cast<store::journal&>(*store) : memory;
        }
    };
    static journal_holder open_journal(const config::settings& settings,
                                       const std::shared_ptr<spdlog::logger>& log);

    /// One listening socket and how its connections are served.
    struct listener {
        const char* name;  ///< mqtt, mqtts, http, https
        bool tls;
        boost::asio::ip::tcp::acceptor acceptor;
    };

    boost::asio::awaitable<void> accept(listener& l);
    /// The config file's products, devices, access keys and thing models into the directory
    /// and the store; the store's own keys and models join the config's.
    void seed_from_config();
    /// The config's access keys and the store's others (the authenticator's set).
    std::vector<config::access_key> all_access_keys() const;
    /// SIGHUP reloads, SIGTERM/SIGINT shut down.
    boost::asio::awaitable<void> handle_signals();
    /// SIGTERM/SIGINT: stop accepting, let in-flight calls finish (bounded), end the rest with
    /// UNKNOWN, close the devices, stop.
    boost::asio::awaitable<void> shut_down(int signal);
    /// SIGHUP: reads the file again and applies access keys, limits, log level and the TLS
    /// certificate; a file that does not load (or a certificate that does not) changes nothing.
    void reload();
    /// Prometheus text for `GET /v1/metrics`.
    std::string metrics() const;
    void print_banner() const;

    config::settings settings_;
    std::optional<std::filesystem::path> config_path_;
    tls_context tls_;
    std::shared_ptr<spdlog::logger> server_log_, mqtt_log_, http_log_, rrpc_log_;
    kit::limit_counters counters_;
    connection_limiter mqtt_connections_, http_connections_;
    login_backoff backoff_;
    journal_holder journal_;
    std::vector<config::access_key> store_keys_;  ///< in the store, not owned by the file
    catalog::device_directory devices_;
    http::thing_models models_;
    device_registry registry_{journal_.get()};
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
    std::vector<listener> listeners_;
    boost::asio::signal_set signals_{io_};
};

}  // namespace rrpcd::server
