#pragma once

#include "catalog/device_key.hpp"
#include "mqtt/packet.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rrpcd::rrpc {

/// What a clean=0 session keeps while its device is away: its subscriptions (its QoS 1
/// messages are kept by the outbox whatever the flag).
struct kept_session {
    std::vector<std::pair<std::string, mqtt::qos>> filters;
    std::int64_t last_seen_ms = 0;  ///< when its device last logged in or left (Unix ms)
    bool online = false;            ///< a connection serves it now: it does not expire
    bool operator==(const kept_session&) const = default;
};

/// The clean=0 sessions of every device [MQTT-3.1.2-4]: resumed by the device's next clean=0
/// login (CONNACK session present = 1), discarded by a clean=1 login [MQTT-3.1.2-6], forgotten
/// after `expiry` without a login (the platform's QoS 1 retention, 7 days). Sans-I/O: the
/// owner writes what changes to the store. One thread.
class kept_sessions {
public:
    explicit kept_sessions(std::chrono::seconds expiry) noexcept : expiry_(expiry) {}

    /// A clean=0 login at `now_ms`: the session it resumes, or nullptr when there is none or it
    /// expired (then it is forgotten, and counted).
    const kept_session* resume(const catalog::device_key& device, std::int64_t now_ms);
    /// Keeps (or replaces) the device's session.
    void keep(const catalog::device_key& device, kept_session session);
    /// The device's connection ended at `now_ms`: its session (if kept) starts to age.
    const kept_session* left(const catalog::device_key& device, std::int64_t now_ms);
    /// A clean=1 login, or the device was deleted: true when a session was kept.
    bool discard(const catalog::device_key& device);
    /// Forgets every session not resumed within the expiry; returns their devices.
    std::vector<catalog::device_key> expire(std::int64_t now_ms);

    const kept_session* find(const catalog::device_key& device) const {
        const auto it = sessions_.find(device);
        return it == sessions_.end() ? nullptr : &it->second;
    }
    std::size_t size() const noexcept { return sessions_.size(); }
    std::uint64_t expired() const noexcept { return expired_; }

private:
    bool is_expired(const kept_session& s, std::int64_t now_ms) const noexcept {
        return !s.online && s.last_seen_ms + std::chrono::milliseconds{expiry_}.count() <= now_ms;
    }

    std::chrono::seconds expiry_;
    std::unordered_map<catalog::device_key, kept_session, catalog::device_key_hash> sessions_;
    std::uint64_t expired_ = 0;
};

}  // namespace rrpcd::rrpc
