#include "rrpc/topics.hpp"

#include "kit/parse_whole.hpp"
#include "mqtt/topic.hpp"

#include <boost/algorithm/string/predicate.hpp>

#include <array>
#include <initializer_list>

namespace rrpcd::rrpc {
namespace {

/// A pattern level: a literal, any one level (`+` or a name), or one or more levels of anything.
struct level {
    enum kind_t : std::uint8_t { literal, any_one, rest } kind;
    std::string_view text{};
};

/// True when every topic that `topic` (a name or a filter) can denote fits `pattern`.
bool fits(std::string_view topic, std::initializer_list<level> pattern) noexcept {
    for (const auto& p : pattern) {
        if (p.kind == level::rest) return !topic.empty();
        // Each pattern level consumes one topic level; topic starts after a '/'.
        const auto slash = topic.find('/');
        const auto name = topic.substr(0, slash);
        if (p.kind == level::literal && name != p.text) return false;
        if (p.kind == level::any_one && name == "#") return false;
        if (slash == std::string_view::npos) return &p == pattern.end() - 1;
        topic.remove_prefix(slash + 1);
        if (&p == pattern.end() - 1) return false;  // the topic has more levels than the pattern
    }
    return false;
}

}  // namespace

std::string request_topic(const catalog::device_key& device, std::uint64_t message_id) {
    return "/sys/" + device.product_key + "/" + device.device_name + "/rrpc/request/" +
           std::to_string(message_id);
}

std::string response_topic(const catalog::device_key& device, std::uint64_t message_id) {
    return "/sys/" + device.product_key + "/" + device.device_name + "/rrpc/response/" +
           std::to_string(message_id);
}

std::string custom_rrpc_topic(std::uint64_t message_id, std::string_view topic) {
    return "/ext/rrpc/" + std::to_string(message_id) + std::string{topic};
}

std::string thing_service_topic(const catalog::device_key& device, std::string_view identifier) {
    return "/sys/" + device.product_key + "/" + device.device_name + "/thing/service/" +
           std::string{identifier};
}

std::vector<std::string> platform_subscriptions(const catalog::device_key& device) {
    const auto sys = "/sys/" + device.product_key + "/" + device.device_name + "/";
    const auto own = device.product_key + "/" + device.device_name;
    return {
        sys + "thing/service/+",                          // services
        sys + "thing/service/property/set",               // (two levels: `+` does not reach them)
        sys + "thing/service/property/get",               //
        sys + "thing/event/+/post_reply",                 // property and event posts' answers
        sys + "thing/event/property/history/post_reply",  //
        sys + "thing/event/property/pack/post_reply",     //
        sys + "thing/dsltemplate/get_reply",              //
        sys + "thing/deviceinfo/update_reply",            //
        sys + "thing/deviceinfo/delete_reply",            //
        sys + "thing/dynamicTsl/get_reply",               // C 3.x
        sys + "thing/model/down_raw",                     // raw (passthrough) products
        sys + "thing/model/up_raw_reply",                 //
        sys + "thing/config/push",                        // remote configuration
        sys + "thing/config/get_reply",                   //
        sys + "thing/ota/firmware/get_reply",             //
        sys + "thing/topo/+",                             // a gateway's requests' answers (refused:
        sys + "thing/sub/+",  //   rrpcd serves no sub-devices, and says so)
        sys + "thing/proxy/provisioning/product_register_reply",  //
        "/ext/session/" + own + "/combine/+",                     //
        sys + "rrpc/request/+",                                   // RRpc without a Topic
        "/ext/rrpc/+" + sys + "thing/service/+",                  // sync services of ext=1 devices
        "/ext/ntp/" + own + "/response",                          //
        "/ext/error/" + own,                                      //
        "/ota/device/upgrade/" + own,                             //
        "/shadow/get/" + own,                                     //
    };
}

std::string reply_topic_of(std::string_view topic) {
    return std::string{topic} + "_reply";
}

bool is_thing_service_reply(std::string_view topic) noexcept {
    return topic.find("/thing/service/") != std::string_view::npos && topic.ends_with("_reply");
}

upstream classify_upstream(const catalog::device_key& device, std::string_view topic) noexcept {
    if (!device_may_access(device, topic, access::publish)) return {};
    constexpr std::string_view ext = "/ext/rrpc/";
    std::optional<std::uint64_t> id;
    if (topic.starts_with(ext)) {
        const auto rest = topic.substr(ext.size());
        id = kit::parse_whole<std::uint64_t>(rest.substr(0, rest.find('/')));
    } else if (auto rest = topic; rest.starts_with("/sys/")) {
        // `/sys/{pk}/{dn}/` is the device's own (the ACL admitted it); then `rrpc/response/{id}`.
        rest.remove_prefix(5 + device.product_key.size() + 1 + device.device_name.size() + 1);
        constexpr std::string_view response = "rrpc/response/";
        if (!rest.starts_with(response))
            return {topic.ends_with("_reply") ? upstream_kind::reply : upstream_kind::data};
        id = kit::parse_whole<std::uint64_t>(rest.substr(response.size()));
    } else {
        return {topic.ends_with("_reply") ? upstream_kind::reply : upstream_kind::data};
    }
    if (!id) return {};
    return {upstream_kind::rrpc_reply, *id};
}

bool is_valid_custom_rrpc_topic(const catalog::device_key& device, std::string_view topic) {
    return !topic.empty() && topic.front() == '/' && topic.size() <= max_topic_bytes &&
           mqtt::is_valid_topic_name(topic) &&
           device_may_access(device, custom_rrpc_topic(0, topic), access::publish);
}

std::optional<catalog::device_key> device_of_topic(std::string_view topic) {
    if (!topic.starts_with('/')) return std::nullopt;
    topic.remove_prefix(1);
    if (topic.starts_with("sys/")) topic.remove_prefix(4);
    const auto pk_end = topic.find('/');
    if (pk_end == std::string_view::npos || pk_end == 0) return std::nullopt;
    const auto rest = topic.substr(pk_end + 1);
    const auto dn = rest.substr(0, rest.find('/'));
    if (dn.empty()) return std::nullopt;
    return catalog::device_key{std::string{topic.substr(0, pk_end)}, std::string{dn}};
}

bool is_device_topic(const catalog::device_key& device, std::string_view topic) {
    return topic.size() <= max_topic_bytes && mqtt::is_valid_topic_name(topic) &&
           device_may_access(device, topic, access::subscribe);
}

bool device_may_access(const catalog::device_key& device, std::string_view topic,
                       access what) noexcept {
    if (topic.empty() || topic.front() != '/') return false;
    topic.remove_prefix(1);
    const level pk{level::literal, device.product_key};
    const level dn{level::literal, device.device_name};
    const level one{level::any_one};
    const level more{level::rest};
    const auto lit = [](std::string_view s) { return level{level::literal, s}; };
    const bool sub = what == access::subscribe;
    return fits(topic, {pk, dn, more}) ||                                            //
           fits(topic, {lit("sys"), pk, dn, more}) ||                                //
           fits(topic, {lit("ext"), lit("rrpc"), one, pk, dn, more}) ||              //
           fits(topic, {lit("ext"), lit("rrpc"), one, lit("sys"), pk, dn, more}) ||  //
           fits(topic, {lit("ext"), lit("session"), pk, dn, more}) ||                //
           fits(topic, {lit("ext"), lit("ntp"), pk, dn, more}) ||                    //
           fits(topic, {lit("shadow"), one, pk, dn}) ||                              //
           fits(topic, {lit("ota"), lit("device"), one, pk, dn}) ||                  //
           (sub && fits(topic, {lit("ext"), lit("error"), pk, dn})) ||               //
           (sub && fits(topic, {lit("broadcast"), pk, more}));
}

bool is_custom_topic(const catalog::device_key& device, std::string_view topic) {
    const auto prefix = "/" + device.product_key + "/" + device.device_name + "/user/";
    return topic.size() > prefix.size() && topic.starts_with(prefix);
}

}  // namespace rrpcd::rrpc
