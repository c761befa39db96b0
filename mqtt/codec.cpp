#include "mqtt/codec.hpp"

#include "mqtt/topic.hpp"

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <string_view>
#include <type_traits>

namespace rrpcd::mqtt {
namespace {

using boost::system::result;

/// Bounds-checked big-endian reader over a frame body. Every read fails once, after which the
/// reader stays failed, so a decoder can read a whole header and check once.
class reader {
public:
    explicit reader(std::span<const std::uint8_t> in) : in_(in) {}

    bool ok() const noexcept { return ok_; }
    bool empty() const noexcept { return in_.empty(); }
    std::size_t left() const noexcept { return in_.size(); }

    std::uint8_t u8() noexcept {
        if (!need(1)) return 0;
        const auto v = in_[0];
        in_ = in_.subspan(1);
        return v;
    }
    std::uint16_t u16() noexcept {
        if (!need(2)) return 0;
        const auto v = boost::endian::load_big_u16(in_.data());
        in_ = in_.subspan(2);
        return v;
    }
    /// A 2-byte-length-prefixed field [MQTT-1.5.3]; binary unless checked as UTF-8 by the caller.
    std::string bytes() {
        const auto n = u16();
        if (!need(n)) return {};
        std::string s(reinterpret_cast<const char*>(in_.data()), n);
        in_ = in_.subspan(n);
        return s;
    }
    std::string rest() {
        std::string s(reinterpret_cast<const char*>(in_.data()), in_.size());
        in_ = {};
        return s;
    }

private:
    bool need(std::size_t n) noexcept {
        if (ok_ && in_.size() >= n) return true;
        ok_ = false;
        in_ = {};
        return false;
    }

    std::span<const std::uint8_t> in_;
    bool ok_ = true;
};

constexpr auto malformed = errc::malformed_packet;

void put_u16(std::uint16_t v, std::vector<std::uint8_t>& out) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

/// Room for `n` more bytes, growing geometrically: an exact reserve per packet would copy the
/// whole buffer each time (a flood of small packets into a full buffer is quadratic).
void make_room(std::vector<std::uint8_t>& out, std::size_t n) {
    if (out.capacity() - out.size() < n) out.reserve(std::max(out.size() + n, out.capacity() * 2));
}

void put_bytes(std::string_view s, std::vector<std::uint8_t>& out) {
    put_u16(static_cast<std::uint16_t>(s.size()), out);
    out.insert(out.end(), s.begin(), s.end());
}

/// A UTF-8 string field that must also be valid MQTT UTF-8.
result<std::string> utf8_field(reader& r) {
    auto s = r.bytes();
    if (!r.ok() || !is_valid_mqtt_utf8(s)) return malformed;
    return s;
}

result<packet> decode_connect(std::uint8_t flags, reader r) {
    if (flags != 0) return malformed;  // [MQTT-2.2.2-2]
    connect c;
    c.protocol_name = r.bytes();
    c.level = r.u8();
    const auto cf = r.u8();
    c.keep_alive = r.u16();
    if (!r.ok()) return malformed;
    if (c.protocol_name != "MQTT") return errc::protocol_error;  // [MQTT-3.1.2-1]
    if (c.level != static_cast<std::uint8_t>(protocol_version::v3_1_1))
        return c;                     // the server answers CONNACK 0x01 [MQTT-3.1.2-2]
    if (cf & 0x01) return malformed;  // reserved flag [MQTT-3.1.2-3]
    c.clean_session = (cf & 0x02) != 0;
    const bool will = (cf & 0x04) != 0;
    const auto will_qos = static_cast<std::uint8_t>((cf >> 3) & 0x03);
    const bool will_retain = (cf & 0x20) != 0;
    const bool has_password = (cf & 0x40) != 0;
    const bool has_username = (cf & 0x80) != 0;
    if (!will && (will_qos != 0 || will_retain))
        return malformed;                 // [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15]
    if (will_qos == 3) return malformed;  // [MQTT-3.1.2-14]
    if (has_password && !has_username) return malformed;  // [MQTT-3.1.2-22]

    auto id = utf8_field(r);  // [MQTT-3.1.3-4]
    if (!id) return id.error();
    c.client_id = std::move(*id);
    if (will) {
        auto topic = utf8_field(r);
        if (!topic) return topic.error();
        if (!is_valid_topic_name(*topic)) return malformed;
        c.will =
            will_message{std::move(*topic), r.bytes(), static_cast<qos>(will_qos), will_retain};
    }
    if (has_username) {
        auto user = utf8_field(r);  // [MQTT-3.1.3-11]
        if (!user) return user.error();
        c.username = std::move(*user);
    }
    if (has_password) c.password = r.bytes();
    if (!r.ok() || !r.empty()) return malformed;
    return c;
}

result<packet> decode_connack(std::uint8_t flags, reader r) {
    if (flags != 0 || r.left() != 2) return malformed;
    const auto ack = r.u8();
    const auto code = r.u8();
    if ((ack & 0xFE) != 0 || code > 5) return malformed;  // [MQTT-3.2.2-1]
    return connack{(ack & 0x01) != 0, static_cast<connect_return_code>(code)};
}

result<packet> decode_publish(std::uint8_t flags, reader r) {
    publish p;
    p.dup = (flags & 0x08) != 0;
    const auto q = static_cast<std::uint8_t>((flags >> 1) & 0x03);
    p.retain = (flags & 0x01) != 0;
    if (q == 3) return malformed;           // [MQTT-3.3.1-4]
    if (q == 0 && p.dup) return malformed;  // [MQTT-3.3.1-2]
    p.qos = static_cast<qos>(q);
    auto topic = utf8_field(r);
    if (!topic) return topic.error();
    if (!is_valid_topic_name(*topic)) return errc::topic_name_invalid;  // [MQTT-3.3.2-2]
    p.topic = std::move(*topic);
    if (q > 0) {
        p.packet_id = r.u16();
        if (!r.ok() || p.packet_id == 0) return malformed;  // [MQTT-2.3.1-1]
    }
    p.payload = r.rest();
    return p;
}

/// PUBACK, UNSUBACK: two bytes of packet id and nothing else.
template <class Ack>
result<packet> decode_ack(std::uint8_t flags, reader r) {
    if (flags != 0 || r.left() != 2) return malformed;
    const auto id = r.u16();
    if (id == 0) return malformed;
    return Ack{id};
}

result<packet> decode_subscribe(std::uint8_t flags, reader r) {
    if (flags != 0x02) return malformed;  // [MQTT-3.8.1-1]
    subscribe s;
    s.packet_id = r.u16();
    if (!r.ok() || s.packet_id == 0) return malformed;
    while (!r.empty()) {
        auto filter = utf8_field(r);
        if (!filter) return filter.error();
        const auto q = r.u8();
        if (!r.ok() || q > 2) return malformed;  // [MQTT-3-8.3-4]
        if (!is_valid_topic_filter(*filter)) return errc::topic_filter_invalid;
        s.subscriptions.push_back({std::move(*filter), static_cast<qos>(q)});
    }
    if (s.subscriptions.empty()) return errc::protocol_error;  // [MQTT-3.8.3-3]
    return s;
}

result<packet> decode_suback(std::uint8_t flags, reader r) {
    if (flags != 0) return malformed;
    suback s;
    s.packet_id = r.u16();
    if (!r.ok() || r.empty()) return malformed;
    while (!r.empty()) {
        const auto code = r.u8();
        if (code > 2 && code != suback_failure) return malformed;  // [MQTT-3.9.3-2]
        s.return_codes.push_back(code);
    }
    return s;
}

result<packet> decode_unsubscribe(std::uint8_t flags, reader r) {
    if (flags != 0x02) return malformed;  // [MQTT-3.10.1-1]
    unsubscribe u;
    u.packet_id = r.u16();
    if (!r.ok() || u.packet_id == 0) return malformed;
    while (!r.empty()) {
        auto filter = utf8_field(r);
        if (!filter) return filter.error();
        if (!is_valid_topic_filter(*filter)) return errc::topic_filter_invalid;
        u.filters.push_back(std::move(*filter));
    }
    if (u.filters.empty()) return errc::protocol_error;  // [MQTT-3.10.3-2]
    return u;
}

/// PINGREQ, PINGRESP, DISCONNECT: no flags, no body.
template <class Empty>
result<packet> decode_empty(std::uint8_t flags, reader r) {
    if (flags != 0 || !r.empty()) return malformed;
    return Empty{};
}

std::uint8_t header_byte(packet_type t, std::uint8_t flags = 0) {
    return static_cast<std::uint8_t>(static_cast<std::uint8_t>(t) << 4 | flags);
}

/// Writes the variable header and payload of `p` to `body`, and returns the fixed header byte.
std::uint8_t encode_body(const packet& p, std::vector<std::uint8_t>& body) {
    return std::visit(
        [&body](const auto& v) -> std::uint8_t {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, connect>) {
                put_bytes(v.protocol_name, body);
                body.push_back(v.level);
                std::uint8_t cf = v.clean_session ? 0x02 : 0x00;
                if (v.will) {
                    cf |= static_cast<std::uint8_t>(0x04 |
                                                    static_cast<std::uint8_t>(v.will->qos) << 3 |
                                                    (v.will->retain ? 0x20 : 0));
                }
                if (v.password) cf |= 0x40;
                if (v.username) cf |= 0x80;
                body.push_back(cf);
                put_u16(v.keep_alive, body);
                put_bytes(v.client_id, body);
                if (v.will) {
                    put_bytes(v.will->topic, body);
                    put_bytes(v.will->payload, body);
                }
                if (v.username) put_bytes(*v.username, body);
                if (v.password) put_bytes(*v.password, body);
                return header_byte(packet_type::connect);
            } else if constexpr (std::is_same_v<T, connack>) {
                body.push_back(v.session_present ? 1 : 0);
                body.push_back(static_cast<std::uint8_t>(v.code));
                return header_byte(packet_type::connack);
            } else if constexpr (std::is_same_v<T, publish>) {
                put_bytes(v.topic, body);
                if (v.qos != qos::at_most_once) put_u16(v.packet_id, body);
                body.insert(body.end(), v.payload.begin(), v.payload.end());
                return header_byte(packet_type::publish,
                                   static_cast<std::uint8_t>((v.dup ? 0x08 : 0) |
                                                             static_cast<std::uint8_t>(v.qos) << 1 |
                                                             (v.retain ? 0x01 : 0)));
            } else if constexpr (std::is_same_v<T, puback>) {
                put_u16(v.packet_id, body);
                return header_byte(packet_type::puback);
            } else if constexpr (std::is_same_v<T, subscribe>) {
                put_u16(v.packet_id, body);
                for (const auto& s : v.subscriptions) {
                    put_bytes(s.filter, body);
                    body.push_back(static_cast<std::uint8_t>(s.qos));
                }
                return header_byte(packet_type::subscribe, 0x02);
            } else if constexpr (std::is_same_v<T, suback>) {
                put_u16(v.packet_id, body);
                body.insert(body.end(), v.return_codes.begin(), v.return_codes.end());
                return header_byte(packet_type::suback);
            } else if constexpr (std::is_same_v<T, unsubscribe>) {
                put_u16(v.packet_id, body);
                for (const auto& f : v.filters) put_bytes(f, body);
                return header_byte(packet_type::unsubscribe, 0x02);
            } else if constexpr (std::is_same_v<T, unsuback>) {
                put_u16(v.packet_id, body);
                return header_byte(packet_type::unsuback);
            } else if constexpr (std::is_same_v<T, pingreq>) {
                return header_byte(packet_type::pingreq);
            } else if constexpr (std::is_same_v<T, pingresp>) {
                return header_byte(packet_type::pingresp);
            } else {
                static_assert(std::is_same_v<T, disconnect>);
                return header_byte(packet_type::disconnect);
            }
        },
        p);
}

}  // namespace

void encode_varint(std::uint32_t value, std::vector<std::uint8_t>& out) {
    do {
        auto byte = static_cast<std::uint8_t>(value & 0x7F);
        value >>= 7;
        if (value != 0) byte |= 0x80;
        out.push_back(byte);
    } while (value != 0);
}

frame_result read_frame(std::span<const std::uint8_t> in, std::size_t max_packet_size) noexcept {
    frame_result r;
    if (in.empty()) return r;
    r.header = in[0];
    std::uint32_t length = 0;
    std::size_t i = 1;
    for (unsigned shift = 0;; shift += 7, ++i) {
        if (i == 5) {  // a fifth length byte [MQTT-2.2.3]
            r.status = frame_result::status::malformed;
            return r;
        }
        if (i >= in.size()) return r;  // need_more
        length |= static_cast<std::uint32_t>(in[i] & 0x7F) << shift;
        if ((in[i] & 0x80) == 0) break;
    }
    const std::size_t header_size = i + 1;
    r.remaining_length = length;
    if (header_size + length > max_packet_size) {
        r.status = frame_result::status::too_large;
        return r;
    }
    if (in.size() < header_size + length) return r;  // need_more
    r.status = frame_result::status::complete;
    r.body = in.subspan(header_size, length);
    r.size = header_size + length;
    return r;
}

result<packet> decode(std::uint8_t header, std::span<const std::uint8_t> body) {
    const auto flags = static_cast<std::uint8_t>(header & 0x0F);
    const reader r{body};
    switch (static_cast<packet_type>(header >> 4)) {
        case packet_type::connect: return decode_connect(flags, r);
        case packet_type::connack: return decode_connack(flags, r);
        case packet_type::publish: return decode_publish(flags, r);
        case packet_type::puback: return decode_ack<puback>(flags, r);
        case packet_type::subscribe: return decode_subscribe(flags, r);
        case packet_type::suback: return decode_suback(flags, r);
        case packet_type::unsubscribe: return decode_unsubscribe(flags, r);
        case packet_type::unsuback: return decode_ack<unsuback>(flags, r);
        case packet_type::pingreq: return decode_empty<pingreq>(flags, r);
        case packet_type::pingresp: return decode_empty<pingresp>(flags, r);
        case packet_type::disconnect: return decode_empty<disconnect>(flags, r);
        case packet_type::pubrec:
        case packet_type::pubrel:
        case packet_type::pubcomp: return errc::qos_not_supported;  // no QoS 2, like the cloud
    }
    return malformed;  // types 0 and 15 are reserved [MQTT-2.2.1]
}

result<void> encode_publish(std::string_view topic, std::string_view payload, mqtt::qos qos,
                            std::uint16_t packet_id, bool dup, std::vector<std::uint8_t>& out) {
    const bool has_id = qos != qos::at_most_once;
    if (topic.size() > max_string_bytes) return errc::topic_name_invalid;
    const auto length = 2 + topic.size() + (has_id ? 2 : 0) + payload.size();
    if (length > max_remaining_length) return errc::packet_too_large;
    make_room(out, length + 5);
    // [MQTT-3.3.1-1]: DUP on a redelivery; [MQTT-3.3.1-2]: never on QoS 0.
    const auto flags = static_cast<std::uint8_t>((static_cast<std::uint8_t>(qos) << 1) |
                                                 (dup && has_id ? 0x08 : 0x00));
    out.push_back(header_byte(packet_type::publish, flags));
    encode_varint(static_cast<std::uint32_t>(length), out);
    put_bytes(topic, out);
    if (has_id) put_u16(packet_id, out);
    out.insert(out.end(), payload.begin(), payload.end());
    return {};
}

void encode(const packet& p, std::vector<std::uint8_t>& out) {
    if (const auto* pub = std::get_if<publish>(&p); pub != nullptr && !pub->retain) {
        (void)encode_publish(pub->topic, pub->payload, pub->qos, pub->packet_id, pub->dup, out);
        return;
    }
    std::vector<std::uint8_t> body;
    const auto header = encode_body(p, body);
    make_room(out, body.size() + 5);
    out.push_back(header);
    encode_varint(static_cast<std::uint32_t>(body.size()), out);
    out.insert(out.end(), body.begin(), body.end());
}

bool is_valid_mqtt_utf8(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        const unsigned c = *p;
        if (c == 0) return false;  // U+0000 [MQTT-1.5.3-2]
        if (c < 0x80) {
            ++p;
            continue;
        }
        unsigned n = 0;
        std::uint32_t cp = 0;
        std::uint32_t min = 0;
        if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else
            return false;
        if (static_cast<std::size_t>(end - p) <= n) return false;
        for (unsigned k = 1; k <= n; ++k) {
            if ((p[k] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (p[k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;  // [MQTT-1.5.3-1]
        p += n + 1;
    }
    return true;
}

}  // namespace rrpcd::mqtt
