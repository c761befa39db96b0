#include "uplink/event.hpp"

#include "kit/base64.hpp"
#include "kit/bytes.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace rrpcd::uplink {

namespace json = boost::json;

std::optional<kind> kind_of(std::string_view name) noexcept {
    const auto at = std::ranges::find(kind_names, name);
    if (at == kind_names.end()) return std::nullopt;
    return static_cast<kind>(at - kind_names.begin());
}

namespace {

constexpr std::uint8_t envelope_version = 1;

/// `2018-08-31 15:32:28.205` (`offset_h` hours east of UTC) or `2018-08-31T07:32:28.205Z`.
std::string time_text(std::int64_t ms, int offset_h, bool iso) {
    const auto shifted = ms + std::int64_t{offset_h} * 3'600'000;
    const std::time_t seconds = static_cast<std::time_t>(shifted / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[40];
    const auto n =
        std::snprintf(text, sizeof text, "%04d-%02d-%02d%c%02d:%02d:%02d.%03d%s", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, iso ? 'T' : ' ', tm.tm_hour, tm.tm_min, tm.tm_sec,
                      static_cast<int>(shifted % 1000), iso ? "Z" : "");
    return {text, static_cast<std::size_t>(n > 0 ? n : 0)};
}

json::object device_fields(const catalog::device_key& device, std::string_view iot_id) {
    json::object o;
    o["iotId"] = iot_id;
    o["productKey"] = device.product_key;
    o["deviceName"] = device.device_name;
    return o;
}

const catalog::check_failure* failure_of(const std::vector<catalog::check_failure>& failed,
                                         std::string_view id) {
    const auto at = std::ranges::find(failed, id, &catalog::check_failure::identifier);
    return at == failed.end() ? nullptr : &*at;
}

}  // namespace

std::string encode(const event& e) {
    std::string out;
    out.reserve(14 + e.topic.size() + e.product_key.size() + e.body.size());
    kit::put_number(out, envelope_version, 1);
    kit::put_number(out, static_cast<std::uint8_t>(e.what), 1);
    kit::put_number(out, static_cast<std::uint64_t>(e.qos), 1);
    kit::put_number(out, static_cast<std::uint64_t>(e.generate_ms), 8);
    kit::put_text(out, std::string_view{e.topic}.substr(0, 0xffff), 2);
    kit::put_text(out, std::string_view{e.product_key}.substr(0, 0xffff), 2);
    out += e.body;
    return out;
}

std::optional<event> decode(std::uint64_t id, std::string_view stored) {
    kit::byte_reader r{stored};
    if (r.number(1) != envelope_version || !r.ok) return std::nullopt;
    event e;
    e.id = id;
    const auto what = r.number(1);
    const auto qos = r.number(1);
    e.generate_ms = static_cast<std::int64_t>(r.number(8));
    e.topic = r.text(2);
    e.product_key = r.text(2);
    if (!r.ok || what >= kind_names.size() || qos > 1) return std::nullopt;
    e.what = static_cast<kind>(what);
    e.qos = static_cast<int>(qos);
    e.body = std::string{r.in};
    return e;
}

std::string forwarding_topic(std::string_view device_topic) {
    constexpr std::string_view sys = "/sys/";
    if (device_topic.starts_with(sys)) return std::string{device_topic.substr(4)};
    return std::string{device_topic};
}

std::string reply_topic(const catalog::device_key& device) {
    return "/" + device.product_key + "/" + device.device_name + "/thing/downlink/reply/message";
}

std::string status_topic(const catalog::device_key& device) {
    return "/as/mqtt/status/" + device.product_key + "/" + device.device_name;
}

std::string property_body(const catalog::device_key& device, std::string_view iot_id,
                          std::int64_t gmt_ms, const json::object& params,
                          const std::vector<catalog::check_failure>& failed) {
    auto o = device_fields(device, iot_id);
    o["gmtCreate"] = gmt_ms;
    json::object items, check_failed;
    for (const auto& [id, posted] : params) {
        // `{"Temp": 23.5}` or `{"Temp": {"value": 23.5, "time": 1524448722000}}`.
        json::object item;
        const auto* form = posted.if_object();
        if (form != nullptr && form->contains("value")) {
            item["value"] = form->at("value");
            const auto* t = form->if_contains("time");
            item["time"] = t != nullptr && (t->is_int64() || t->is_uint64()) ? *t : gmt_ms;
        } else {
            item["value"] = posted;
            item["time"] = gmt_ms;
        }
        if (const auto* f = failure_of(failed, id)) {
            item["code"] = f->code;
            item["message"] = f->message;
            check_failed[id] = std::move(item);
        } else {
            items[id] = std::move(item);
        }
    }
    o["items"] = std::move(items);
    if (!check_failed.empty()) o["checkFailedData"] = std::move(check_failed);
    return json::serialize(o);
}

std::string event_body(const catalog::device_key& device, std::string_view iot_id,
                       std::string_view identifier, std::int64_t gmt_ms, const json::object& params,
                       const std::vector<catalog::check_failure>& failed) {
    json::object o;
    o["identifier"] = identifier;
    for (auto&& [k, v] : device_fields(device, iot_id)) o[k] = v;
    o["gmtCreate"] = gmt_ms;
    // `{"value": {…}, "time": …}` (Alink), or the values themselves (the Node device SDK's
    // postEvent sends its argument as params).
    const auto* value = params.if_contains("value");
    o["value"] = value != nullptr ? *value : json::value(params);
    const auto* t = params.if_contains("time");
    o["time"] = t != nullptr && (t->is_int64() || t->is_uint64()) ? *t : json::value(gmt_ms);
    if (!failed.empty()) {
        json::object check;
        check["code"] = failed.front().code;
        check["message"] = failed.front().message;
        o["checkFailedData"] = std::move(check);
    }
    return json::serialize(o);
}

std::string event_json(const event& e) {
    json::object o;
    o["kind"] = to_string(e.what);
    o["topic"] = e.topic;
    o["messageId"] = std::to_string(e.id);
    o["generateTime"] = e.generate_ms;
    o["qos"] = e.qos;
    o["productKey"] = e.product_key;
    boost::system::error_code ec;
    auto parsed = json::parse(e.body, ec);
    if (!ec) o["body"] = std::move(parsed);
    o["payloadBase64"] = kit::base64_encode(e.body);
    return json::serialize(o);
}

boost::system::result<stream_filter, std::string> stream_filter_of(std::string_view target) {
    using result = boost::system::result<stream_filter, std::string>;
    const auto url = boost::urls::parse_origin_form(target);
    if (!url) return result{boost::system::in_place_error, "the request target does not parse"};
    stream_filter f;
    for (const auto& param : url->params()) {
        if (param.key != "kinds" && param.key != "products") continue;
        std::vector<std::string> list;
        std::string_view rest = param.value;
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            if (const auto item = rest.substr(0, comma); !item.empty()) list.emplace_back(item);
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        }
        if (param.key == "kinds") {
            for (const auto& k : list)
                if (!kind_of(k))
                    return result{boost::system::in_place_error,
                                  "kinds: \"" + k.substr(0, 32) +
                                      "\" is not one of reply, property, event, custom, status"};
            if (!list.empty()) f.kinds = std::move(list);
        } else {
            f.products = std::move(list);
        }
    }
    return f;
}

std::string status_body(const catalog::device_key& device, std::string_view iot_id, bool online,
                        std::int64_t time_ms, std::int64_t last_ms, std::string_view client_ip,
                        std::optional<offline_reason> why) {
    json::object o;
    o["status"] = online ? "online" : "offline";
    for (auto&& [k, v] : device_fields(device, iot_id)) o[k] = v;
    o["time"] = time_text(time_ms, 8, false);
    o["utcTime"] = time_text(time_ms, 0, true);
    o["lastTime"] = time_text(last_ms, 8, false);
    o["utcLastTime"] = time_text(last_ms, 0, true);
    o["clientIp"] = client_ip;
    if (!online && why) o["offlineReasonCode"] = static_cast<int>(*why);
    return json::serialize(o);
}

}  // namespace rrpcd::uplink
