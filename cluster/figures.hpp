#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace rrpcd::cluster {

/// What a node's cluster membership counted (the metrics).
struct member_figures {
    std::uint64_t forwarded = 0;  ///< calls sent to another node
    std::uint64_t forwarded_success = 0, forwarded_timeout = 0, forwarded_offline = 0,
                  forwarded_halfconn = 0, forwarded_unknown = 0;
    std::uint64_t unavailable = 0;  ///< calls refused: Redis did not answer
    std::uint64_t served = 0;       ///< calls other nodes forwarded here
    std::uint64_t orphans = 0;      ///< outcomes for a call no longer waited for
    /// Redis commands by what they were for (purpose_names), and those without a reply (down,
    /// hung, lost).
    std::array<std::uint64_t, 6> round_trips{};
    std::uint64_t errors = 0;
    std::uint64_t kicks = 0;  ///< sessions elsewhere closed by a login here
    std::uint32_t node = 0;
    std::uint64_t peers = 0;  ///< other nodes holding a slot (at the last renewal)
    bool reachable = false;
};
/// What a Redis command was for: the slot's lease, a presence record, a call's route, an inbox
/// message, the watch of nodes with calls forwarded to them, the shared store (catalog, async
/// calls).
enum class purpose : std::uint8_t { lease, presence, route, publish, watch, store };
inline constexpr std::array<std::string_view, 6> purpose_names{"lease",   "presence", "route",
                                                               "publish", "watch",    "store"};

}  // namespace rrpcd::cluster
