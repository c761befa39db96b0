#pragma once

#include "mqtt/packet.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rrpcd::rrpc {

/// What the MQTT side knows of a device's link, for deciding how a call to it ends.
struct presence {
    using clock = std::chrono::steady_clock;
    enum class state : std::uint8_t {
        never,         ///< no session since start-up
        connected,     ///< a session is open; `since` is its last inbound packet
        left_cleanly,  ///< the last session ended with DISCONNECT; `since` is when
        lost,          ///< the last session ended abruptly (socket error, keep-alive expiry)
    };
    presence::state link = state::never;
    clock::time_point since{};
    std::chrono::seconds keep_alive{0};  ///< of the (last) session; 0 = none
};

/// What a device's session says of itself (the console): its peer, its CONNECT, its Link SDK
/// flags, its subscriptions.
struct session_info {
    std::string peer;  ///< address:port
    std::chrono::seconds keep_alive{0};
    bool server_subscribe = false;  ///< the client id's _ss=1
    bool ext = false;               ///< ext=1
    bool clean = true;              ///< the CONNECT's clean session flag
    std::int64_t connected_ms = 0;  ///< its login (Unix ms)
    std::vector<std::pair<std::string, mqtt::qos>> subscriptions{};
};

/// How reachable a device is right now.
enum class liveness : std::uint8_t { online, half_connected, offline };

/// The platform's rules: half-connected when the session is open but silent for longer than its
/// keep-alive (a heartbeat was missed, it is not yet dropped at 1.5x), or when it ended abruptly
/// less than one keep-alive period ago; offline when never connected, after a clean DISCONNECT,
/// or lost more than one keep-alive period ago.
liveness classify(const presence& p, presence::clock::time_point now) noexcept;

}  // namespace rrpcd::rrpc
