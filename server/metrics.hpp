#pragma once

#include "kit/limit_counters.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

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
    std::uint64_t store_failed_writes = 0;  ///< transactions the store could not commit
};

/// The Prometheus text exposition (version 0.0.4) of `m`.
std::string render_metrics(const metrics_snapshot& m);

}  // namespace rrpcd::server
