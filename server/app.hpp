#pragma once

#include "catalog/thing_model.hpp"
#include "config/settings.hpp"
#include "server/node.hpp"
#include "server/tls.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/signal_set.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rrpcd::server {

/// The process: its settings, loggers and TLS certificate, its listeners' addresses, the
/// signals (SIGHUP reloads, SIGTERM/SIGINT drain and stop) and the ready line. What serves is
/// the node it owns.
class app {
public:
    /// `models` are the products' thing models, parsed from `settings` (load_thing_models);
    /// `tls` is the certificate context when `settings` has TLS listeners; `config_path` is
    /// where SIGHUP reloads from (none: the embedded default, which does not change).
    /// `overrides` (environment, flags) apply again over the file at each reload.
    app(config::settings settings, catalog::thing_models models, tls_context tls,
        std::optional<std::filesystem::path> config_path,
        std::vector<config::override_value> overrides = {});
    app(const app&) = delete;
    app& operator=(const app&) = delete;

    /// Opens the store, binds the listeners and prints the ready line with the bound ports.
    /// False on failure (logged).
    bool start();

    /// Serves until SIGINT or SIGTERM; returns the process exit code.
    int run();

private:
    boost::asio::awaitable<void> handle_signals();
    /// SIGHUP: reads the file again and applies access keys, limits, log level and the TLS
    /// certificate; a file that does not load (or a certificate that does not) changes nothing.
    void reload();
    void print_banner() const;

    config::settings_ptr settings_;  ///< the current snapshot; a reload publishes the next
    std::optional<std::filesystem::path> config_path_;
    std::vector<config::override_value> overrides_;
    tls_context tls_;
    /// Logs a certificate that expired or expires within 30 days (at start and on reload).
    void check_certificate() const;
    loggers log_;
    std::unique_ptr<node> node_;
    std::vector<std::pair<const char*, std::string>> bound_;  ///< listener name, host:port
    /// On the node's io_context, so it goes before the node does.
    std::optional<boost::asio::signal_set> signals_;
};

}  // namespace rrpcd::server
