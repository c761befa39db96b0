#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rrpcd::kit {

/// Every configured limit that can be hit (docs/security.md lists them with their defaults).
enum class limit : std::uint8_t {
    mqtt_connections,              ///< mqtt.max_connections
    mqtt_connections_per_address,  ///< mqtt.max_connections_per_address
    mqtt_connect_timeout,          ///< mqtt.connect_timeout_ms
    mqtt_packet_size,              ///< mqtt.max_packet_bytes
    mqtt_outbound_queue,           ///< mqtt.max_outbound_bytes (slow reader disconnected)
    mqtt_login_backoff,            ///< mqtt.login_backoff_after / login_backoff_max_s
    http_connections,              ///< http.max_connections
    http_connections_per_address,  ///< http.max_connections_per_address
    http_header_timeout,           ///< http.header_timeout_ms
    http_request_timeout,          ///< http.request_timeout_ms
    http_header_size,              ///< http.max_header_bytes
    http_body_size,                ///< http.max_body_bytes
    pending_calls_per_device,      ///< rrpc.max_pending_per_device
    queued_messages_per_device,    ///< mqtt.max_queued_messages (a QoS 1 message refused)
    mqtt_subscriptions,            ///< mqtt.max_subscriptions (a filter refused in its SUBACK)
    accept_failed,                 ///< the process's descriptors (ulimit -n): accept() failed
    reply_queue,  ///< replies.max_queued / max_queued_bytes (an event dropped for a slow reader)
    mqtt_subscription_bytes,  ///< mqtt.max_subscription_bytes (a filter refused in its SUBACK)
    store_queue,  ///< store.max_queue_bytes (what an outsider asked to keep was refused)
};
inline constexpr std::size_t limit_kinds = 19;

/// The metric label of a limit.
constexpr std::string_view name_of(limit l) noexcept {
    constexpr std::array<std::string_view, limit_kinds> names{"mqtt_connections",
                                                              "mqtt_connections_per_address",
                                                              "mqtt_connect_timeout",
                                                              "mqtt_packet_size",
                                                              "mqtt_outbound_queue",
                                                              "mqtt_login_backoff",
                                                              "http_connections",
                                                              "http_connections_per_address",
                                                              "http_header_timeout",
                                                              "http_request_timeout",
                                                              "http_header_size",
                                                              "http_body_size",
                                                              "pending_calls_per_device",
                                                              "queued_messages_per_device",
                                                              "mqtt_subscriptions",
                                                              "accept_failed",
                                                              "reply_queue",
                                                              "mqtt_subscription_bytes",
                                                              "store_queue"};
    return names[static_cast<std::size_t>(l)];
}

/// How often each limit was hit. A hit is worth a log line the 1st, 2nd, 4th, 8th… time, so a
/// flood costs a few log lines, not one per packet. Shared by every thread (relaxed atomics: a
/// count, not a synchronisation).
class limit_counters {
public:
    /// Counts one hit; true when this one should be logged.
    bool hit(limit l) noexcept {
        const auto n =
            hits_[static_cast<std::size_t>(l)].fetch_add(1, std::memory_order_relaxed) + 1;
        return (n & (n - 1)) == 0;
    }
    std::uint64_t count(limit l) const noexcept {
        return hits_[static_cast<std::size_t>(l)].load(std::memory_order_relaxed);
    }

private:
    std::array<std::atomic<std::uint64_t>, limit_kinds> hits_{};
};

}  // namespace rrpcd::kit
