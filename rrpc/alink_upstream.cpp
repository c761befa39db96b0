#include "rrpc/alink_upstream.hpp"

#include <boost/json.hpp>

#include <array>

namespace rrpcd::rrpc {

namespace json = boost::json;

namespace {

/// A request topic (after `/sys/{pk}/{dn}/`) and the method its body names.
struct route {
    std::string_view rest;
    alink_kind kind;
    std::string_view method;  ///< "" : the SDKs send none (their gateway and OTA requests)
};

constexpr std::array<route, 17> sys_routes{{
    {"thing/event/property/post", alink_kind::property_post, "thing.event.property.post"},
    {"thing/event/property/history/post", alink_kind::property_history_post,
     "thing.event.property.history.post"},
    {"thing/event/property/pack/post", alink_kind::property_pack_post,
     "thing.event.property.pack.post"},
    {"thing/deviceinfo/update", alink_kind::deviceinfo_update, "thing.deviceinfo.update"},
    {"thing/deviceinfo/delete", alink_kind::deviceinfo_delete, "thing.deviceinfo.delete"},
    {"thing/config/get", alink_kind::config_get, "thing.config.get"},
    {"thing/dsltemplate/get", alink_kind::model_get, "thing.dsltemplate.get"},
    {"thing/dynamicTsl/get", alink_kind::model_get, "thing.dynamicTsl.get"},
    {"thing/ota/firmware/get", alink_kind::ota_firmware_get, "thing.ota.firmware.get"},
    {"thing/topo/add", alink_kind::gateway, ""},
    {"thing/topo/delete", alink_kind::gateway, ""},
    {"thing/topo/get", alink_kind::gateway, ""},
    {"thing/sub/register", alink_kind::gateway, ""},
    {"thing/sub/unregister", alink_kind::gateway, ""},
    {"thing/list/found", alink_kind::gateway, ""},
    {"thing/proxy/provisioning/product_register", alink_kind::gateway, ""},
    {"thing/disable", alink_kind::gateway, ""},
}};

std::string_view message_of(int code) noexcept {
    switch (code) {
        case 200: return "success";
        case 400: return "request error";
        case 460: return "request parameter error";
        case 6106: return "map size must less than 200";
        case 6206: return "product property not exist";
        case 6300: return "dsl parse: method not exist";
        case 6301: return "dsl parse: params format must be JSONObject/JSONArray";
        case 6315: return "dsl parse: data not satisfy dsl";
        default: break;
    }
    return "request error";
}

/// The reply body: keys in the platform's (alphabetical) order, `id` always a string.
std::string render(int code, const json::value& data, std::string_view id, std::string_view method,
                   std::string_view detail) {
    json::object o;
    o["code"] = code;
    o["data"] = data;
    o["id"] = id;
    o["message"] = detail.empty() ? std::string{message_of(code)}
                                  : std::string{message_of(code)} + ": " + std::string{detail};
    if (!method.empty()) o["method"] = method;
    o["version"] = "1.0";
    return json::serialize(o);
}

/// The request's `id` as a string (a number is written as its digits), or nullopt.
std::optional<std::string> id_of(const json::object& request) {
    const auto* id = request.if_contains("id");
    if (id == nullptr) return std::nullopt;
    if (const auto* s = id->if_string()) return std::string{*s};
    if (id->is_int64() || id->is_uint64()) return json::serialize(*id);
    return std::nullopt;
}

std::string ms_text(std::int64_t ms) {
    return std::to_string(ms);
}

/// `/ext/ntp/{pk}/{dn}/request`: the device's clock request, answered with the server's times
/// (strings, as the C SDK parses them).
alink_answer answer_ntp(const catalog::device_key& device, std::string_view payload,
                        std::int64_t now_ms) {
    alink_answer a;
    a.kind = alink_kind::ntp;
    a.reply_topic = "/ext/ntp/" + device.product_key + "/" + device.device_name + "/response";
    json::object reply;
    boost::system::error_code ec;
    const auto request = json::parse(payload, ec);
    const auto* o = ec ? nullptr : request.if_object();
    if (const auto* sent = o ? o->if_contains("deviceSendTime") : nullptr) {
        reply["deviceSendTime"] = sent->is_string() ? json::value(sent->as_string())
                                                    : json::value(json::serialize(*sent));
    } else {
        a.code = 460;
        a.reason = "no deviceSendTime";
    }
    reply["serverRecvTime"] = ms_text(now_ms);
    reply["serverSendTime"] = ms_text(now_ms);
    a.reply = json::serialize(reply);
    return a;
}

/// The product's default thing model document as JSON (`{}` without one).
json::value model_data(const catalog::thing_model* model) {
    const auto* doc = model != nullptr ? catalog::find_document(*model, "") : nullptr;
    if (doc == nullptr) return json::object{};
    boost::system::error_code ec;
    auto v = json::parse(doc->text, ec);
    return ec ? json::value(json::object{}) : v;
}

}  // namespace

std::string_view to_string(alink_kind k) noexcept {
    constexpr std::array<std::string_view, alink_kinds> names{"property_post",
                                                              "event_post",
                                                              "property_history_post",
                                                              "property_pack_post",
                                                              "deviceinfo_update",
                                                              "deviceinfo_delete",
                                                              "config_get",
                                                              "model_get",
                                                              "ota_firmware_get",
                                                              "ntp",
                                                              "gateway",
                                                              "malformed"};
    return names[static_cast<std::size_t>(k)];
}

std::optional<alink_answer> answer_alink(const catalog::device_key& device, std::string_view topic,
                                         std::string_view payload,
                                         const catalog::thing_model* model, std::int64_t now_ms) {
    const auto own = device.product_key + "/" + device.device_name + "/";
    if (topic == "/ext/ntp/" + own + "request") return answer_ntp(device, payload, now_ms);
    // What the request is, from its topic: `/sys/{pk}/{dn}/thing/…` or a gateway's session.
    route found{{}, alink_kind::malformed, {}};
    std::string event_method;
    const auto sys = "/sys/" + own;
    if (topic.starts_with("/ext/session/" + own)) {
        found = {topic, alink_kind::gateway, ""};  // combine/login, batch_login and the logouts
    } else if (topic.starts_with(sys)) {
        const auto rest = topic.substr(sys.size());
        for (const auto& r : sys_routes)
            if (rest == r.rest) found = r;
        // thing/event/{identifier}/post: an event (its identifier one level, or module:id).
        constexpr std::string_view event = "thing/event/", post = "/post";
        if (found.kind == alink_kind::malformed && rest.starts_with(event) &&
            rest.ends_with(post) && rest.size() > event.size() + post.size()) {
            const auto id = rest.substr(event.size(), rest.size() - event.size() - post.size());
            if (id.find('/') == std::string_view::npos) {
                event_method = "thing.event." + std::string{id} + ".post";
                found = {id, alink_kind::event_post, event_method};
            }
        }
        if (found.kind == alink_kind::malformed) return std::nullopt;
    } else {
        return std::nullopt;
    }

    alink_answer a;
    a.kind = found.kind;
    a.reply_topic = std::string{topic} + "_reply";
    const auto refuse = [&](int code, std::string reason, std::string_view id) {
        a.code = code;
        a.reason = std::move(reason);
        a.reply = render(code, json::object{}, id, found.method, a.reason);
        return a;
    };
    boost::system::error_code ec;
    const auto doc = json::parse(payload, ec);
    const auto* request = ec ? nullptr : doc.if_object();
    if (request == nullptr) {
        a.kind = alink_kind::malformed;
        return refuse(460, "not Alink JSON", "");
    }
    const auto id = id_of(*request);
    if (!id) {
        a.kind = alink_kind::malformed;
        return refuse(460, "no id", "");
    }
    if (const auto* method = request->if_contains("method"); method != nullptr) {
        if (!found.method.empty() &&
            (!method->is_string() || method->as_string() != found.method)) {
            a.kind = alink_kind::malformed;
            return refuse(460,
                          "its method does not match the topic (" + std::string{found.method} + ")",
                          *id);
        }
    }
    const auto* params = request->if_contains("params");
    json::value data = json::object{};
    switch (found.kind) {
        case alink_kind::property_post: {
            const auto* props = params != nullptr ? params->if_object() : nullptr;
            if (props == nullptr) return refuse(6301, "params is not an object", *id);
            if (props->size() > 200)
                return refuse(6106, std::to_string(props->size()) + " properties", *id);
            a.params = *props;
            if (model != nullptr) {
                a.failed = catalog::check_properties(*model, *props);
                if (!a.failed.empty()) {
                    auto failed = std::move(a.failed);
                    auto answer = refuse(failed.front().code, failed.front().message, *id);
                    answer.failed = std::move(failed);
                    return answer;
                }
            }
            break;
        }
        case alink_kind::event_post: {
            const auto* p = params != nullptr ? params->if_object() : nullptr;
            if (p == nullptr) return refuse(6301, "params is not an object", *id);
            a.params = *p;
            a.event = std::string{found.rest};
            if (model != nullptr) {
                const auto* value = p->if_contains("value");
                static const json::value empty = json::object{};
                if (auto failed = catalog::check_event(*model, found.rest,
                                                       value != nullptr ? *value : empty)) {
                    const auto code = failed->code;
                    auto reason = failed->message;
                    a.failed.push_back(std::move(*failed));
                    auto failures = std::move(a.failed);
                    auto answer = refuse(code, std::move(reason), *id);
                    answer.failed = std::move(failures);
                    return answer;
                }
            }
            break;
        }
        case alink_kind::model_get: data = model_data(model); break;
        case alink_kind::gateway:
            return refuse(400, "rrpcd does not serve a gateway's sub-devices", *id);
        default: break;  // answered success: the uplink issue's to keep what they carry
    }
    a.reply = render(200, data, *id, found.method, "");
    return a;
}

}  // namespace rrpcd::rrpc
