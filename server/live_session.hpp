#pragma once

#include "mqtt/packet.hpp"
#include "rrpc/presence.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rrpcd::server {

/// How deliver() sent a message.
enum class delivery : std::uint8_t { none, qos0, qos1 };

/// Why a session is ended from outside it.
enum class close_reason : std::uint8_t {
    takeover,  ///< the same device logged in again
    shutdown,  ///< the server stops (what is queued is flushed first, bounded)
    removed,   ///< the device was deleted or disabled
};

/// What the device registry knows of a device's live session: it can be handed a message,
/// closed, and asked when it last heard from its device. io thread only.
class live_session {
public:
    using clock = std::chrono::steady_clock;

    /// Sends a PUBLISH when a subscription matches `topic`, at the lower of `qos` and the
    /// granted QoS (`dup`: a redelivery); a QoS 1 send remembers `message_id` until its PUBACK.
    /// `none` when nothing matches, the session is closing, or MQTT cannot frame it.
    virtual delivery deliver(std::string_view topic, std::string_view payload, mqtt::qos qos,
                             std::uint64_t message_id, bool dup) = 0;
    /// True when a queued message on `topic` may be written now: not in the burst after a
    /// resumed or `_ss=1` login, before the device's SDK has set up its handlers (see
    /// mqtt_session: a fresh subscription matching it, or the session settled).
    virtual bool may_take_queued(std::string_view topic) const = 0;
    /// Ends the session: it stops reading, flushes what is queued (bounded) and closes.
    virtual void close(close_reason why) = 0;
    /// The last inbound packet.
    virtual clock::time_point last_activity() const noexcept = 0;
    /// The keep-alive its CONNECT asked for.
    virtual std::chrono::seconds keep_alive() const noexcept = 0;
    /// Unique among this process's sessions (the cluster's presence records name it).
    virtual std::uint64_t serial() const noexcept = 0;
    /// Its client id said `ext=1`.
    virtual bool ext_rrpc() const noexcept = 0;
    /// Its peer and flags now, and its subscriptions when asked (they are copied: up to
    /// mqtt.max_subscriptions filters).
    virtual rrpc::session_info info(bool with_subscriptions) const = 0;
    /// Cluster mode: the device's shared presence record is this session's now (`ok`), or
    /// Redis did not take it (the login is refused). Its CONNACK waits for this.
    virtual void claimed(bool ok) { (void)ok; }

protected:
    ~live_session() = default;
};

}  // namespace rrpcd::server
