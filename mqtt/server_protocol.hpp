#pragma once

#include "mqtt/packet.hpp"

#include <boost/system/error_code.hpp>

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_set>
#include <variant>
#include <vector>

namespace rrpcd::mqtt {

/// What a server_protocol reports to the application, in the order the client sent it.
namespace event {
/// A CONNECT to authenticate; the application answers with accept() or refuse().
struct connect_request {
    mqtt::connect connect;
};
/// An inbound PUBLISH; its PUBACK (QoS 1) has already been written.
struct message {
    mqtt::publish publish;
};
/// A SUBSCRIBE; the application answers with suback(), granting or refusing each filter.
struct subscribe_request {
    mqtt::subscribe subscribe;
};
/// An UNSUBSCRIBE; its UNSUBACK has already been written.
struct unsubscribe_request {
    mqtt::unsubscribe unsubscribe;
};
/// The client acknowledged our QoS 1 PUBLISH with this packet id.
struct acknowledged {
    std::uint16_t packet_id;
};
/// A clean DISCONNECT [MQTT-3.14]; the connection is over.
struct disconnected {};
/// The client broke the protocol; close the connection without a reply (3.1.1 has no reason).
struct violation {
    boost::system::error_code reason;
};
}  // namespace event

using protocol_event = std::variant<event::connect_request, event::message,
                                    event::subscribe_request, event::unsubscribe_request,
                                    event::acknowledged, event::disconnected, event::violation>;

/// The server side of one MQTT 3.1.1 connection, without I/O: bytes in, events and bytes out.
/// Time is passed in. Enforces CONNECT first [MQTT-3.1.0-1] and once [MQTT-3.1.0-2], answers
/// PINGREQ, acknowledges QoS 1, refuses QoS 2 and client-sent server packets, tracks our QoS 1
/// packet ids and the keep-alive deadline (1.5 x keep-alive [MQTT-3.1.2-24]).
/// Not thread-safe; one instance per connection.
class server_protocol {
public:
    using clock = std::chrono::steady_clock;
    enum class state : std::uint8_t { awaiting_connect, authenticating, connected, closed };

    /// `max_packet_size` bounds a whole frame, checked before its body is buffered.
    explicit server_protocol(std::size_t max_packet_size, clock::time_point now);

    /// Consumes complete frames from the front of `in`, appending events and the bytes to send.
    /// Returns how many bytes were consumed; the rest (an incomplete frame) stays with the caller.
    /// Stops after a connect_request until accept()/refuse(), and at the end of the connection.
    std::size_t feed(std::span<const std::uint8_t> in, clock::time_point now,
                     std::vector<protocol_event>& events, std::vector<std::uint8_t>& out);

    /// Bytes the caller must have buffered before feed() can make progress: at least the rest of
    /// the current frame when its length is known. Used to size reads.
    std::size_t max_packet_size() const noexcept { return max_packet_size_; }

    /// Accepts the pending CONNECT: writes CONNACK 0 and starts the keep-alive clock.
    void accept(bool session_present, std::vector<std::uint8_t>& out);
    /// Refuses the pending CONNECT with `code` (non-zero) [MQTT-3.2.2-5]; the connection is over.
    void refuse(connect_return_code code, std::vector<std::uint8_t>& out);
    /// Answers a subscribe_request; one return code per filter, in order [MQTT-3.8.4-5].
    void suback(std::uint16_t packet_id, std::vector<std::uint8_t> return_codes,
                std::vector<std::uint8_t>& out);
    /// Writes a PUBLISH to the client (`dup` for a redelivery [MQTT-3.3.1-1]). QoS 1 gets a
    /// fresh packet id, tracked until its PUBACK. Returns the packet id used (0 for QoS 0), or
    /// why MQTT cannot frame it (then nothing is written and no id is taken).
    boost::system::result<std::uint16_t> publish(std::string_view topic, std::string_view payload,
                                                 mqtt::qos qos, bool dup,
                                                 std::vector<std::uint8_t>& out);

    state current_state() const noexcept { return state_; }
    /// Keep-alive of the accepted CONNECT, 0 when the client asked for none.
    std::chrono::seconds keep_alive() const noexcept { return keep_alive_; }
    /// When the client last sent a complete packet.
    clock::time_point last_activity() const noexcept { return last_activity_; }
    /// When the server must drop a silent client [MQTT-3.1.2-24], if keep-alive is on.
    std::optional<clock::time_point> keep_alive_deadline() const noexcept;
    /// QoS 1 publishes written and not yet acknowledged.
    std::size_t inflight() const noexcept { return inflight_.size(); }

private:
    void handle(packet&& p, std::vector<protocol_event>& events, std::vector<std::uint8_t>& out);
    void violate(boost::system::error_code reason, std::vector<protocol_event>& events);

    std::size_t max_packet_size_;
    state state_ = state::awaiting_connect;
    std::chrono::seconds keep_alive_{0};
    std::uint16_t pending_keep_alive_ = 0;
    clock::time_point last_activity_;
    std::uint16_t next_packet_id_ = 1;
    std::unordered_set<std::uint16_t> inflight_;
};

}  // namespace rrpcd::mqtt
