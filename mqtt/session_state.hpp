#pragma once

#include "mqtt/packet.hpp"

#include <boost/container/flat_map.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rrpcd::mqtt {

/// What one MQTT session holds beyond the protocol state machine: its subscriptions and the
/// QoS 1 messages it was sent and has not acknowledged. Sans-I/O and without policy (the ACL
/// decides before subscribe() is called). One thread.
class session_state {
public:
    /// Adds `filter` at `granted`, or replaces the QoS of the same filter [MQTT-3.8.4-3].
    void subscribe(std::string filter, qos granted);
    /// Removes the filters that are held exactly as given [MQTT-3.10.4-1]; others are ignored.
    void unsubscribe(std::span<const std::string> filters);
    /// The highest QoS granted to a filter that matches `topic`, or nullopt when none does
    /// [MQTT-3.3.5-1].
    std::optional<qos> match(std::string_view topic) const;
    std::size_t subscriptions() const noexcept { return filters_.size(); }
    /// The bytes of every filter held (a session's filters are bounded in bytes too).
    std::size_t filter_bytes() const noexcept { return filter_bytes_; }
    /// Every filter held, with its QoS (a clean=0 session keeps them).
    std::vector<std::pair<std::string, qos>> filters() const {
        return {filters_.begin(), filters_.end()};
    }
    /// True when exactly `filter` is held.
    bool holds(std::string_view filter) const { return filters_.contains(filter); }

    /// A QoS 1 PUBLISH went out as `packet_id`, carrying the server's `message_id`.
    void sent(std::uint16_t packet_id, std::uint64_t message_id);
    /// The PUBACK of `packet_id`: the message id it carried, or nullopt when nothing was in
    /// flight under that id (a duplicate or stray PUBACK).
    std::optional<std::uint64_t> acknowledged(std::uint16_t packet_id);
    std::size_t in_flight() const noexcept { return in_flight_.size(); }

private:
    /// A sorted vector: 40 bytes a filter (as compact as a plain vector, an idle session holds
    /// it), O(log n) to find, and bounded by the session's max_subscriptions.
    boost::container::flat_map<std::string, qos, std::less<>> filters_;
    std::size_t filter_bytes_ = 0;
    std::unordered_map<std::uint16_t, std::uint64_t> in_flight_;
};

}  // namespace rrpcd::mqtt
