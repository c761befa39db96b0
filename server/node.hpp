#pragma once

#include "catalog/device_directory.hpp"
#include "catalog/login.hpp"
#include "catalog/login_backoff.hpp"
#include "catalog/property_values.hpp"
#include "catalog/thing_model.hpp"
#include "cluster/shared_store.hpp"
#include "config/settings.hpp"
#include "console/site.hpp"
#include "fleet/fleet.hpp"
#include "http/api.hpp"
#include "http/authenticator.hpp"
#include "kit/connection_limiter.hpp"
#include "kit/limit_counters.hpp"
#include "rrpc/async_calls.hpp"
#include "rrpc/call_log.hpp"
#include "rrpc/message_id.hpp"
#include "rrpc/reply_hub.hpp"
#include "rrpc/service.hpp"
#include "server/amqp_session.hpp"
#include "server/device_plane.hpp"
#include "server/device_registry.hpp"
#include "server/drain_gate.hpp"
#include "server/http_session.hpp"
#include "server/local_router.hpp"
#include "server/metrics.hpp"
#include "server/mqtt_session.hpp"
#include "server/tls.hpp"
#include "server/uplink.hpp"
#include "server/webhook.hpp"
#include "store/journal.hpp"
#include "store/sqlite_store.hpp"

#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/result.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rrpcd::server {

/// The loggers the rooms are given (server/ makes them; mqtt/ and config/ never log).
struct loggers {
    std::shared_ptr<spdlog::logger> server, mqtt, http, rrpc;
};

/// The completion of a spawned coroutine: counts what escapes it in `failures` (when given) and
/// logs it the 1st, 2nd, 4th… time; that coroutine (a session: its connection) ends, the
/// process does not.
struct log_exception {
    std::shared_ptr<spdlog::logger> log;
    std::atomic<std::uint64_t>* failures = nullptr;
    void operator()(const std::exception_ptr& e) const;
};

/// The process-wide node: what must be one per process (the io_context and its threads' work,
/// listeners, store, fleet, catalog, credentials, nonce cache, back-off and limiters, call log,
/// reply hub, webhooks, console, metrics, reload and drain) and its device planes (README
/// "Threads"). Its lifetime rule is in its destructor, not in its members' order: the suspended
/// coroutines (sessions, calls, accept loops) use every member, so they end first.
class node {
public:
    /// `settings`: the snapshot it starts with (reloaded() gives it the next); `models` are the
    /// products' thing models.
    node(config::settings_ptr settings, catalog::thing_models models, loggers logs);
    /// Closes the store, closes the listeners and every other I/O object, shuts the io_context
    /// down (every suspended coroutine goes), then the services, the planes and the io_context.
    ~node();
    node(const node&) = delete;
    node& operator=(const node&) = delete;

    boost::asio::io_context& io() noexcept { return *io_; }
    /// Where the node's own work runs (accept loops, timers, signals, reload, drain, the
    /// console): a strand with several planes, the io_context with one.
    const boost::asio::any_io_executor& node_executor() const noexcept { return node_ex_; }

    /// Opens the store (if any), loads it, and seeds it from the config file. The error is
    /// ready to log.
    boost::system::result<void, std::string> open();
    /// Binds a listener (`name` is mqtt, mqtts, http, https, amqp or amqps) and starts accepting on
    /// it (with `tls` for the TLS ones). Returns the bound `host:port`, or the error.
    boost::system::result<std::string, std::string> listen(const char* name,
                                                           const config::endpoint& where,
                                                           tls_context tls);
    /// Starts what runs beside the listeners (webhook senders).
    void start();
    /// Once a minute, clean=0 sessions past their expiry go.
    boost::asio::awaitable<void> expire_sessions();

    /// SIGHUP: `next` is the settings now (its access keys, limits; TLS listeners take `tls`).
    void reloaded(config::settings_ptr next, tls_context tls);
    /// SIGTERM or SIGINT: readiness and new calls answer 503 and the MQTT listeners close;
    /// in-flight calls may finish within `grace` (with `linger`, the HTTP listeners stay open
    /// for all of it, then close); the rest end UNKNOWN; the devices are closed.
    boost::asio::awaitable<void> drain(std::chrono::milliseconds grace, bool linger);
    /// The start of a drain: readiness and new calls answer 503 from now on (drain() does it too).
    void stop_taking() { gate_->stop(); }

    /// What `GET /readyz` checks: listeners bound, the store writable, not draining.
    std::vector<readiness_check> readiness();
    /// What `GET /v1/metrics` shows: the node's figures and every plane's, each read on its
    /// own plane.
    boost::asio::awaitable<metrics_snapshot> metrics();
    std::size_t devices() const noexcept { return devices_.size(); }
    std::size_t planes() const noexcept { return planes_.size(); }
    std::size_t thing_models() const noexcept { return models_.size(); }
    std::size_t webhooks() const noexcept { return webhooks_.size(); }
    /// An exception that escaped a handler into io_context::run() (app::run() goes on).
    void count_escaped() noexcept { failures_.fetch_add(1); }

private:
    struct listener {
        const char* name;
        bool tls;
        boost::asio::ip::tcp::acceptor acceptor;
        tls_context context;
    };
    boost::asio::awaitable<void> accept(listener& l);
    /// The AMQP listeners' loop: each consumer connection on the uplink's strand.
    boost::asio::awaitable<void> accept_amqp(listener& l);
    /// Each second: the console's chart takes the call counts, and held messages past their
    /// hold go.
    boost::asio::awaitable<void> each_second();
    /// What the console reads of the sessions and the process: each device on its plane.
    struct console_view final : console::live_view {
        node& s;
        explicit console_view(node& owner) : s(owner) {}
        boost::asio::awaitable<std::vector<console::device_live>> devices(
            std::vector<catalog::device_key> keys, std::size_t queued_listed) override;
        boost::asio::awaitable<console::figures> now() override;
    };
    store::journal& journal() noexcept;
    /// Cluster mode, at open(): claims this node's slot in Redis (the MessageIds' node bits).
    boost::system::result<void, std::string> join_cluster();
    /// Cluster mode, at open(): the catalog becomes the cluster's (read from Redis, or this
    /// node's written there at the cluster's first start), and follows its changes.
    boost::system::result<void, std::string> share_catalog();
    /// Makes the catalog in memory exactly `rows` (the cluster's).
    void replace_catalog(cluster::catalog_rows rows);
    /// The catalog in memory (products and devices).
    cluster::catalog_rows catalog_now() const;
    /// Before the io threads run: this thread drives the io_context until `work` is done.
    template <class T>
    T run_here(boost::asio::awaitable<T> work);
    /// An async call or a Pub another node forwarded: made here, on disk before it is answered.
    boost::asio::awaitable<cluster::outcome_envelope> serve_send(cluster::send_envelope e);
    /// Above every MessageId any plane issued or issues within the next seconds (persisted).
    std::uint64_t id_floor() const;

    /// The io_context, with its shutdown at hand: ~node() destroys every handler and coroutine
    /// first (while the members they use exist), the io_context itself last.
    struct node_io_context : boost::asio::io_context {
        using boost::asio::io_context::io_context;
        void shut_down() { shutdown(); }
    };
    // First: every I/O object below is made on it, and it is destroyed last.
    std::unique_ptr<node_io_context> io_;
    std::optional<boost::asio::strand<boost::asio::io_context::executor_type>> node_strand_;
    boost::asio::any_io_executor node_ex_;
    config::settings_ptr settings_;  ///< the current snapshot (what its services read)
    loggers log_;
    kit::limit_counters counters_;
    kit::connection_limiter mqtt_connections_, http_connections_;
    catalog::login_backoff backoff_;
    catalog::login_policy login_;
    std::string store_error_;                     ///< why the store could not be opened
    std::unique_ptr<store::sqlite_store> store_;  ///< null: memory only (or failed to open)
    store::memory_journal memory_;
    /// Cluster mode: the journal the services write through (the local one, and Redis for
    /// what the nodes share); null on a single node.
    std::unique_ptr<cluster::shared_store> shared_;
    catalog::device_directory devices_;
    catalog::thing_models models_;
    catalog::property_values properties_;  ///< the latest values devices posted
    rrpc::call_log calls_;
    rrpc::reply_hub replies_;
    /// The server-side subscription: its groups and their AMQP consumers (a strand of its own).
    std::optional<uplink_service> uplink_;
    /// Cluster mode (`[cluster] redis`): this node's membership; null on a single node.
    std::shared_ptr<cluster::member> cluster_;
    /// The device planes (made in the constructor's body, once every node service exists).
    std::vector<std::unique_ptr<device_plane>> planes_;
    plane_router router_{planes_};  ///< how the API, the console and the fleet reach devices
    fleet::service fleet_;
    http::authenticator auth_;
    http::api api_;
    mqtt_planes mqtt_planes_;  ///< the planes as the MQTT sessions see them
    console_view console_view_{*this};
    console::site console_;
    std::int64_t started_ms_;
    /// Sessions and handlers that ended by an exception, on any thread.
    std::atomic<std::uint64_t> failures_{0};
    std::atomic<std::size_t> next_plane_{0};  ///< where the next connection starts
    // I/O objects other than sessions: reset by ~node() before the io_context goes.
    std::optional<drain_gate> gate_;
    /// What every plane's HTTP sessions share: the rendered events, the refusal lines, the
    /// replay budget.
    sse_frames frames_;
    kit::log_throttle malformed_lines_{10, std::chrono::minutes{1}, 10'000};
    kit::log_throttle login_lines_{10, std::chrono::minutes{1}, 10'000};  ///< refused logins
    kit::byte_budget replay_budget_{std::chrono::minutes{1}, 10'000};
    std::vector<std::unique_ptr<http_context>> http_ctx_;  ///< one per plane
    std::vector<std::unique_ptr<webhook_sender>> webhooks_;
    kit::connection_limiter amqp_connections_;
    std::uint64_t amqp_refused_connections_ = 0;  ///< past amqp.max_connections (node strand)
    std::optional<amqp_context> amqp_ctx_;        ///< with an AMQP listener configured
    std::vector<std::unique_ptr<listener>> listeners_;
};

/// The API's limits from the settings.
http::api_limits api_limits_of(const config::settings& s);

}  // namespace rrpcd::server
