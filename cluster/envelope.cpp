#include "cluster/envelope.hpp"

#include "kit/bytes.hpp"

namespace rrpcd::cluster {

namespace {

constexpr std::uint8_t version = 1;
enum class tag : std::uint8_t { call = 1, outcome = 2, kick = 3, send = 4 };

// Texts longer than their length field allows cannot come from a valid request (product keys,
// device names, topics and identifiers are bounded far below 64 KiB by their checks); they are
// cut rather than framed wrongly.
void put_short(std::string& out, std::string_view s) {
    kit::put_text(out, s.substr(0, 0xffff), 2);
}
void put_long(std::string& out, std::string_view s) {
    kit::put_text(out, s.substr(0, 0xffffffffu), 4);
}
void put_device(std::string& out, const catalog::device_key& d) {
    put_short(out, d.product_key);
    put_short(out, d.device_name);
}

struct encoder {
    std::string& out;
    void operator()(const call_envelope& c) const {
        kit::put_number(out, static_cast<std::uint8_t>(tag::call), 1);
        kit::put_number(out, c.origin, 4);
        kit::put_number(out, c.ticket, 8);
        put_device(out, c.device);
        put_short(out, c.topic);
        put_long(out, c.payload);
        kit::put_number(out, c.timeout_ms, 4);
        kit::put_number(out, static_cast<std::uint8_t>(c.kind), 1);
        put_short(out, c.identifier);
        kit::put_number(out, c.message_id, 8);
        kit::put_number(out, c.max_pending, 4);
    }
    void operator()(const outcome_envelope& o) const {
        kit::put_number(out, static_cast<std::uint8_t>(tag::outcome), 1);
        kit::put_number(out, o.ticket, 8);
        kit::put_number(out, static_cast<std::uint8_t>(o.code), 1);
        kit::put_number(out, o.message_id, 8);
        kit::put_number(out, o.waiting, 4);
        put_long(out, o.payload);
    }
    void operator()(const kick_envelope& k) const {
        kit::put_number(out, static_cast<std::uint8_t>(tag::kick), 1);
        put_device(out, k.device);
        kit::put_number(out, k.session, 8);
        kit::put_number(out, k.forget ? 1 : 0, 1);
    }
    void operator()(const send_envelope& e) const {
        kit::put_number(out, static_cast<std::uint8_t>(tag::send), 1);
        kit::put_number(out, e.origin, 4);
        kit::put_number(out, e.ticket, 8);
        kit::put_number(out, e.message_id, 8);
        kit::put_number(out, (e.publish ? 1U : 0U) | (e.reliable ? 2U : 0U), 1);
        kit::put_number(out, static_cast<std::uint8_t>(e.kind), 1);
        put_device(out, e.device);
        put_short(out, e.topic);
        put_long(out, e.payload);
        put_short(out, e.identifier);
        put_short(out, e.alink_id);
        put_short(out, e.owner);
    }
};

catalog::device_key device_of(kit::byte_reader& r) {
    catalog::device_key d;
    d.product_key = r.text(2);
    d.device_name = r.text(2);
    return d;
}

}  // namespace

std::string encode(const envelope& e) {
    std::string out;
    kit::put_number(out, version, 1);
    std::visit(encoder{out}, e);
    return out;
}

std::optional<envelope> decode(std::string_view bytes) {
    kit::byte_reader r{bytes};
    if (r.number(1) != version) return std::nullopt;
    std::optional<envelope> out;
    switch (static_cast<tag>(r.number(1))) {
        case tag::call: {
            call_envelope c;
            c.origin = static_cast<std::uint32_t>(r.number(4));
            c.ticket = r.number(8);
            c.device = device_of(r);
            c.topic = r.text(2);
            c.payload = r.text(4);
            c.timeout_ms = static_cast<std::uint32_t>(r.number(4));
            const auto kind = r.number(1);
            if (kind > static_cast<std::uint8_t>(rrpc::call_kind::thing_async)) return std::nullopt;
            c.kind = static_cast<rrpc::call_kind>(kind);
            c.identifier = r.text(2);
            c.message_id = r.number(8);
            c.max_pending = static_cast<std::uint32_t>(r.number(4));
            out = std::move(c);
            break;
        }
        case tag::outcome: {
            outcome_envelope o;
            o.ticket = r.number(8);
            const auto code = r.number(1);
            if (code > static_cast<std::uint8_t>(rrpc::rrpc_code::unknown)) return std::nullopt;
            o.code = static_cast<rrpc::rrpc_code>(code);
            o.message_id = r.number(8);
            o.waiting = static_cast<std::uint32_t>(r.number(4));
            o.payload = r.text(4);
            out = std::move(o);
            break;
        }
        case tag::kick: {
            kick_envelope k;
            k.device = device_of(r);
            k.session = r.number(8);
            const auto forget = r.number(1);
            if (forget > 1) return std::nullopt;
            k.forget = forget == 1;
            out = std::move(k);
            break;
        }
        case tag::send: {
            send_envelope e;
            e.origin = static_cast<std::uint32_t>(r.number(4));
            e.ticket = r.number(8);
            e.message_id = r.number(8);
            const auto flags = r.number(1);
            if (flags > 3) return std::nullopt;
            e.publish = (flags & 1U) != 0;
            e.reliable = (flags & 2U) != 0;
            const auto kind = r.number(1);
            if (kind > static_cast<std::uint8_t>(rrpc::call_kind::thing_async)) return std::nullopt;
            e.kind = static_cast<rrpc::call_kind>(kind);
            e.device = device_of(r);
            e.topic = r.text(2);
            e.payload = r.text(4);
            e.identifier = r.text(2);
            e.alink_id = r.text(2);
            e.owner = r.text(2);
            out = std::move(e);
            break;
        }
        default: return std::nullopt;
    }
    if (!r.ok || !r.in.empty()) return std::nullopt;
    return out;
}

}  // namespace rrpcd::cluster
