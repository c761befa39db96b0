#include "cluster/records.hpp"

#include "kit/base64.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <cstdint>

namespace rrpcd::cluster {

namespace json = boost::json;

namespace {

using clock = rrpc::call_record::clock;

std::int64_t ms_of(clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

clock::time_point time_of(std::int64_t ms) {
    return clock::time_point{std::chrono::milliseconds{ms}};
}

/// The object `text` holds, or nullopt when it is not one.
std::optional<json::object> object_of(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

/// Reads what a record holds; any member of the wrong type makes the record unreadable.
struct reader {
    const json::object& o;
    bool ok = true;

    std::string text(std::string_view name) {
        const auto* v = o.if_contains(name);
        if (v == nullptr) return {};
        if (!v->is_string()) return ok = false, std::string{};
        return std::string{v->as_string()};
    }
    std::int64_t number(std::string_view name) {
        const auto* v = o.if_contains(name);
        if (v == nullptr) return 0;
        if (v->is_int64()) return v->as_int64();
        if (v->is_uint64() && v->as_uint64() <= INT64_MAX)
            return static_cast<std::int64_t>(v->as_uint64());
        return ok = false, 0;
    }
    bool flag(std::string_view name) {
        const auto* v = o.if_contains(name);
        if (v == nullptr) return false;
        if (!v->is_bool()) return ok = false, false;
        return v->as_bool();
    }
    std::string bytes(std::string_view name) {
        auto decoded = kit::base64_decode(text(name));
        if (!decoded) return ok = false, std::string{};
        return std::move(*decoded);
    }
};

/// A record's MessageId (`id`, an unsigned 64-bit number).
std::optional<std::uint64_t> id_of(const json::object& o) {
    const auto* id = o.if_contains("id");
    if (id != nullptr && id->is_uint64()) return id->as_uint64();
    if (id != nullptr && id->is_int64() && id->as_int64() >= 0)
        return static_cast<std::uint64_t>(id->as_int64());
    return std::nullopt;
}

}  // namespace

std::string device_field(const catalog::device_key& key) {
    return key.product_key + "/" + key.device_name;
}

std::optional<catalog::device_key> device_of_field(std::string_view field) {
    const auto slash = field.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == field.size())
        return std::nullopt;
    return catalog::device_key{std::string{field.substr(0, slash)},
                               std::string{field.substr(slash + 1)}};
}

std::string encode(const catalog::device_record& d) {
    json::object o;
    o["secret"] = d.secret;
    o["iot_id"] = d.iot_id;
    o["nickname"] = d.nickname;
    o["disabled"] = d.disabled;
    o["created_ms"] = d.created_ms;
    o["active_ms"] = d.active_ms;
    o["from_config"] = d.from_config;
    return json::serialize(o);
}

std::optional<catalog::device_record> decode_device(const catalog::device_key& key,
                                                    std::string_view text) {
    const auto o = object_of(text);
    if (!o) return std::nullopt;
    reader r{*o};
    catalog::device_record d{.key = key,
                             .secret = r.text("secret"),
                             .iot_id = r.text("iot_id"),
                             .nickname = r.text("nickname"),
                             .disabled = r.flag("disabled"),
                             .created_ms = r.number("created_ms"),
                             .active_ms = r.number("active_ms"),
                             .from_config = r.flag("from_config")};
    if (!r.ok || d.secret.empty()) return std::nullopt;
    return d;
}

std::string encode(const catalog::product_record& p) {
    json::object o;
    o["name"] = p.name;
    o["node_type"] = p.node_type;
    o["data_format"] = p.data_format;
    o["description"] = p.description;
    o["created_ms"] = p.created_ms;
    return json::serialize(o);
}

std::optional<catalog::product_record> decode_product(std::string_view product_key,
                                                      std::string_view text) {
    const auto o = object_of(text);
    if (!o || product_key.empty()) return std::nullopt;
    reader r{*o};
    catalog::product_record p{.product_key = std::string{product_key},
                              .name = r.text("name"),
                              .node_type = static_cast<int>(r.number("node_type")),
                              .data_format = static_cast<int>(r.number("data_format")),
                              .description = r.text("description"),
                              .created_ms = r.number("created_ms")};
    if (!r.ok) return std::nullopt;
    return p;
}

std::string encode(const rrpc::call_record& c) {
    json::object o;
    o["id"] = c.message_id;
    o["kind"] = static_cast<int>(c.kind);
    o["pk"] = c.device.product_key;
    o["dn"] = c.device.device_name;
    o["topic"] = c.topic;
    o["request"] = kit::base64_encode(c.request);
    o["identifier"] = c.identifier;
    o["state"] = static_cast<int>(c.state);
    o["reply_topic"] = c.reply_topic;
    o["reply"] = kit::base64_encode(c.reply);
    o["created_ms"] = ms_of(c.created);
    o["published_ms"] = ms_of(c.published);
    o["acked_ms"] = ms_of(c.acked);
    o["finished_ms"] = ms_of(c.finished);
    o["owner"] = c.owner;
    return json::serialize(o);
}

std::optional<rrpc::call_record> decode_call(std::string_view text) {
    const auto o = object_of(text);
    if (!o) return std::nullopt;
    reader r{*o};
    const auto id = id_of(*o);
    if (!id) return std::nullopt;
    const auto kind = r.number("kind");
    const auto state = r.number("state");
    if (kind < 0 || kind > static_cast<int>(rrpc::call_kind::thing_async) || state < 0 ||
        state > static_cast<int>(rrpc::call_state::unknown))
        return std::nullopt;
    rrpc::call_record c{.message_id = *id,
                        .kind = static_cast<rrpc::call_kind>(kind),
                        .device = {r.text("pk"), r.text("dn")},
                        .topic = r.text("topic"),
                        .request = r.bytes("request"),
                        .identifier = r.text("identifier"),
                        .state = static_cast<rrpc::call_state>(state),
                        .reply_topic = r.text("reply_topic"),
                        .reply = r.bytes("reply"),
                        .created = time_of(r.number("created_ms")),
                        .published = time_of(r.number("published_ms")),
                        .acked = time_of(r.number("acked_ms")),
                        .finished = time_of(r.number("finished_ms")),
                        .owner = r.text("owner")};
    if (!r.ok || c.device.product_key.empty() || c.device.device_name.empty()) return std::nullopt;
    return c;
}

std::string encode(const rrpc::queued_message& m) {
    json::object o;
    o["id"] = m.message_id;
    o["topic"] = m.topic;
    o["payload"] = kit::base64_encode(m.payload);
    return json::serialize(o);
}

std::optional<rrpc::queued_message> decode_parked(std::string_view text) {
    const auto o = object_of(text);
    if (!o) return std::nullopt;
    const auto id = id_of(*o);
    reader r{*o};
    rrpc::queued_message m{
        .message_id = id.value_or(0), .topic = r.text("topic"), .payload = r.bytes("payload")};
    if (!id || !r.ok || m.topic.empty()) return std::nullopt;
    return m;
}

std::string encode(const rrpc::async_reply& r, std::uint32_t origin) {
    json::object o;
    o["origin"] = origin;
    o["id"] = r.message_id;
    o["gmt_create_ms"] = r.gmt_create_ms;
    o["iot_id"] = r.iot_id;
    o["pk"] = r.device.product_key;
    o["dn"] = r.device.device_name;
    o["request_id"] = r.request_id;
    o["code"] = r.code;
    o["message"] = r.message;
    o["topic"] = r.topic;
    o["data"] = r.data;
    o["payload"] = kit::base64_encode(r.payload);
    return json::serialize(o);
}

std::optional<std::pair<std::uint32_t, rrpc::async_reply>> decode_reply(std::string_view text) {
    const auto o = object_of(text);
    if (!o) return std::nullopt;
    reader r{*o};
    const auto id = id_of(*o);
    const auto origin = r.number("origin");
    if (!id) return std::nullopt;
    rrpc::async_reply a;
    a.message_id = *id;
    a.gmt_create_ms = r.number("gmt_create_ms");
    a.iot_id = r.text("iot_id");
    a.device = {r.text("pk"), r.text("dn")};
    a.request_id = r.text("request_id");
    a.code = r.number("code");
    a.message = r.text("message");
    a.topic = r.text("topic");
    if (const auto* d = o->if_contains("data")) a.data = *d;
    a.payload = r.bytes("payload");
    if (!r.ok || origin < 0 || origin > 31 || a.device.product_key.empty() ||
        a.device.device_name.empty())
        return std::nullopt;
    return std::pair{static_cast<std::uint32_t>(origin), std::move(a)};
}

}  // namespace rrpcd::cluster
