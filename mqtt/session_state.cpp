#include "mqtt/session_state.hpp"

#include "mqtt/topic.hpp"

#include <algorithm>

namespace rrpcd::mqtt {

void session_state::subscribe(std::string filter, qos granted) {
    const auto bytes = filter.size();
    if (filters_.insert_or_assign(std::move(filter), granted).second) filter_bytes_ += bytes;
}

void session_state::unsubscribe(std::span<const std::string> filters) {
    for (const auto& f : filters) {
        if (const auto it = filters_.find(f); it != filters_.end()) {
            filter_bytes_ -= it->first.size();
            filters_.erase(it);
        }
    }
}

std::optional<qos> session_state::match(std::string_view topic) const {
    std::optional<qos> best;
    for (const auto& [filter, granted] : filters_)
        if (topic_matches(filter, topic)) best = std::max(best.value_or(granted), granted);
    return best;
}

void session_state::sent(std::uint16_t packet_id, std::uint64_t message_id) {
    in_flight_[packet_id] = message_id;
}

std::optional<std::uint64_t> session_state::acknowledged(std::uint16_t packet_id) {
    const auto it = in_flight_.find(packet_id);
    if (it == in_flight_.end()) return std::nullopt;
    const auto id = it->second;
    in_flight_.erase(it);
    return id;
}

}  // namespace rrpcd::mqtt
