#include "mqtt/server_protocol.hpp"

#include "mqtt/codec.hpp"
#include "mqtt/errc.hpp"

#include <type_traits>

namespace rrpcd::mqtt {

server_protocol::server_protocol(std::size_t max_packet_size, clock::time_point now)
    : max_packet_size_(max_packet_size), last_activity_(now) {}

std::size_t server_protocol::feed(std::span<const std::uint8_t> in, clock::time_point now,
                                  std::vector<protocol_event>& events,
                                  std::vector<std::uint8_t>& out) {
    std::size_t consumed = 0;
    while (state_ == state::awaiting_connect || state_ == state::connected) {
        const auto frame = read_frame(in.subspan(consumed), max_packet_size_);
        if (frame.status == frame_result::status::need_more) break;
        if (frame.status == frame_result::status::malformed) {
            violate(errc::malformed_packet, events);
            break;
        }
        if (frame.status == frame_result::status::too_large) {
            violate(errc::packet_too_large, events);
            break;
        }
        consumed += frame.size;
        last_activity_ = now;
        auto p = decode(frame.header, frame.body);
        if (!p) {
            violate(p.error(), events);
            break;
        }
        handle(std::move(*p), events, out);
    }
    return consumed;
}

void server_protocol::handle(packet&& p, std::vector<protocol_event>& events,
                             std::vector<std::uint8_t>& out) {
    if (state_ == state::awaiting_connect) {
        auto* c = std::get_if<connect>(&p);
        if (c == nullptr) return violate(errc::protocol_error, events);  // [MQTT-3.1.0-1]
        if (c->level != static_cast<std::uint8_t>(protocol_version::v3_1_1))
            return refuse(connect_return_code::unacceptable_protocol_version,
                          out);  // [MQTT-3.1.2-2]
        if (c->client_id.empty() && !c->clean_session)
            return refuse(connect_return_code::identifier_rejected, out);  // [MQTT-3.1.3-8]
        state_ = state::authenticating;
        pending_keep_alive_ = c->keep_alive;
        events.emplace_back(event::connect_request{std::move(*c)});
        return;
    }
    std::visit(
        [&](auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, mqtt::publish>) {
                if (v.qos == qos::exactly_once) return violate(errc::qos_not_supported, events);
                if (v.qos == qos::at_least_once)
                    encode(mqtt::puback{v.packet_id}, out);  // [MQTT-4.3.2-2]
                events.emplace_back(event::message{std::move(v)});
            } else if constexpr (std::is_same_v<T, mqtt::puback>) {
                if (inflight_.erase(v.packet_id) != 0)
                    events.emplace_back(event::acknowledged{v.packet_id});
            } else if constexpr (std::is_same_v<T, mqtt::subscribe>) {
                events.emplace_back(event::subscribe_request{std::move(v)});
            } else if constexpr (std::is_same_v<T, mqtt::unsubscribe>) {
                encode(mqtt::unsuback{v.packet_id}, out);  // [MQTT-3.10.4-4]
                events.emplace_back(event::unsubscribe_request{std::move(v)});
            } else if constexpr (std::is_same_v<T, mqtt::pingreq>) {
                encode(mqtt::pingresp{}, out);  // [MQTT-3.12.4-1]
            } else if constexpr (std::is_same_v<T, mqtt::disconnect>) {
                state_ = state::closed;
                events.emplace_back(event::disconnected{});
            } else {
                // A second CONNECT [MQTT-3.1.0-2], or a packet only a server sends.
                violate(errc::protocol_error, events);
            }
        },
        p);
}

void server_protocol::violate(boost::system::error_code reason,
                              std::vector<protocol_event>& events) {
    state_ = state::closed;
    events.emplace_back(event::violation{reason});
}

void server_protocol::accept(bool session_present, std::vector<std::uint8_t>& out) {
    if (state_ != state::authenticating) return;
    state_ = state::connected;
    keep_alive_ = std::chrono::seconds{pending_keep_alive_};
    encode(mqtt::connack{session_present, connect_return_code::accepted}, out);
}

void server_protocol::refuse(connect_return_code code, std::vector<std::uint8_t>& out) {
    state_ = state::closed;
    encode(mqtt::connack{false, code}, out);  // session present 0 with a refusal [MQTT-3.2.2-4]
}

void server_protocol::suback(std::uint16_t packet_id, std::vector<std::uint8_t> return_codes,
                             std::vector<std::uint8_t>& out) {
    if (state_ != state::connected) return;
    encode(mqtt::suback{packet_id, std::move(return_codes)}, out);
}

boost::system::result<std::uint16_t> server_protocol::publish(std::string_view topic,
                                                              std::string_view payload,
                                                              mqtt::qos qos, bool dup,
                                                              std::vector<std::uint8_t>& out) {
    std::uint16_t id = 0;
    // The registry bounds the in-flight window far below 65,535, so a free id always exists.
    if (qos != qos::at_most_once) {
        // Skip ids still in flight; 0 is not a packet id [MQTT-2.3.1-1].
        do {
            id = next_packet_id_++;
            if (next_packet_id_ == 0) next_packet_id_ = 1;
        } while (inflight_.contains(id));
    }
    if (auto written = encode_publish(topic, payload, qos, id, dup, out); !written)
        return written.error();
    if (id != 0) inflight_.insert(id);
    return id;
}

std::optional<server_protocol::clock::time_point> server_protocol::keep_alive_deadline()
    const noexcept {
    if (keep_alive_.count() == 0) return std::nullopt;
    return last_activity_ + keep_alive_ * 3 / 2;
}

}  // namespace rrpcd::mqtt
