#pragma once

#include "cluster/figures.hpp"
#include "http/api.hpp"
#include "kit/histogram.hpp"
#include "kit/limit_counters.hpp"
#include "rrpc/call_log.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rrpcd::server {

/// The figures `GET /v1/metrics` shows, taken at one moment.
struct metrics_snapshot {
    std::array<std::uint64_t, kit::limit_kinds> limit_hits{};
    std::size_t mqtt_connections = 0;
    std::size_t http_connections = 0;
    std::size_t devices_online = 0;
    std::size_t calls_pending = 0;
    std::size_t login_backoff_entries = 0;
    std::size_t sessions_kept = 0;            ///< clean=0 sessions, online or away
    std::uint64_t sessions_expired = 0;       ///< forgotten after mqtt.session_expiry_s
    std::uint64_t login_backoff_evicted = 0;  ///< pairs forgotten to make room
    std::size_t nonces = 0;                   ///< remembered signature nonces
    std::uint64_t nonces_forgotten = 0;       ///< before their window ended (the cache was full)
    std::uint64_t calls_success = 0, calls_timeout = 0, calls_offline = 0, calls_halfconn = 0;
    std::uint64_t store_failed_writes = 0;              ///< transactions the store could not commit
    std::optional<kit::histogram> store_write_seconds;  ///< none: memory only
    http::api_stats api;                                ///< per action
    rrpc::call_log::kind_counts calls_started{};
    std::array<std::array<std::uint64_t, 6>, 4> calls_ended{};
    std::uint64_t webhook_delivered = 0, webhook_retries = 0, webhook_gave_up = 0,
                  webhook_dropped = 0;
    std::size_t sse_clients = 0;
    std::size_t console_sessions = 0;
    std::uint64_t sse_dropped = 0;
    std::map<std::string, std::uint64_t, std::less<>> login_refused;  ///< by reason
    std::vector<std::size_t> plane_devices_online;                    ///< by plane
    std::uint64_t router_hops = 0;       ///< plane_router messages across planes
    std::uint64_t handler_failures = 0;  ///< sessions or handlers ended by an exception
    std::uint64_t async_duplicates = 0;  ///< answers to async requests already answered
    /// MQTT PUBLISH packets and bytes (of every packet), from devices and to them.
    std::uint64_t mqtt_messages_in = 0, mqtt_messages_out = 0, mqtt_bytes_in = 0,
                  mqtt_bytes_out = 0;
    std::optional<std::int64_t> tls_cert_expiry_seconds;  ///< with TLS listeners
    /// Alink requests devices sent, by kind and the platform's answer code.
    std::map<std::pair<std::string, int>, std::uint64_t> alink_answered;
    std::size_t held_messages = 0, held_bytes = 0;  ///< QoS 0 requests held for a subscription
    std::size_t store_queued_bytes = 0;             ///< records waiting for the store's writer
    /// The server-side subscription: its consumer groups, connections and logins.
    struct amqp_group {
        std::string id;
        std::uint64_t queued = 0, bytes = 0, consumers = 0, delivered = 0, accepted = 0,
                      redelivered = 0, refused = 0, expired = 0;
    };
    std::vector<amqp_group> amqp_groups;
    std::size_t amqp_connections = 0;
    std::uint64_t amqp_logins = 0, amqp_logins_refused = 0, amqp_refused_links = 0;
    std::optional<cluster::member_figures> cluster;  ///< cluster mode
};

/// The process's own figures (Prometheus' process_* names), from /proc/self.
struct process_figures {
    double cpu_seconds = 0;
    std::uint64_t resident_bytes = 0, virtual_bytes = 0;
    std::size_t open_fds = 0, max_fds = 0;
    double start_time_seconds = 0;
};
process_figures read_process_figures();

/// The Prometheus text exposition (version 0.0.4) of `m`, the process's figures and the build.
std::string render_metrics(const metrics_snapshot& m, const process_figures& p = {});

}  // namespace rrpcd::server
