#include "rrpc/topics.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace rrpcd::rrpc;
using namespace rrpcd::catalog;

namespace {
const device_key a{"a1PK", "devA"};
const device_key b{"a1PK", "devB"};
}  // namespace

TEST_CASE("RRPC topics", "[rrpc]") {
    CHECK(request_topic(a, 42) == "/sys/a1PK/devA/rrpc/request/42");
    CHECK(response_topic(a, 42) == "/sys/a1PK/devA/rrpc/response/42");
    CHECK(custom_rrpc_topic(42, "/a1PK/devA/user/get") == "/ext/rrpc/42/a1PK/devA/user/get");
}

TEST_CASE("a device's PUBLISH is classified from its topic in one call", "[rrpc]") {
    using kind = rrpcd::rrpc::upstream_kind;
    const auto is = [](upstream u, kind k, std::uint64_t id = 0) {
        return u.kind == k && u.message_id == id;
    };
    CHECK(is(classify_upstream(a, "/sys/a1PK/devA/rrpc/response/42"), kind::rrpc_reply, 42));
    CHECK(is(classify_upstream(a, "/ext/rrpc/42/a1PK/devA/user/get"), kind::rrpc_reply, 42));
    // Another device's topics are refused whatever their form.
    CHECK(is(classify_upstream(a, "/sys/a1PK/devB/rrpc/response/42"), kind::refused));
    CHECK(is(classify_upstream(a, "/ext/rrpc/42/a1PK/devB/user/get"), kind::refused));
    // A reply form whose id does not parse answers nothing and is not data.
    CHECK(is(classify_upstream(a, "/sys/a1PK/devA/rrpc/response/4x2"), kind::refused));
    CHECK(is(classify_upstream(a, "/sys/a1PK/devA/rrpc/response/"), kind::refused));
    CHECK(is(classify_upstream(a, "/sys/a1PK/devA/rrpc/response/99999999999999999999999"),
             kind::refused));
    CHECK(is(classify_upstream(a, "/ext/rrpc/not-a-number/a1PK/devA/user/get"), kind::refused));
    // `rrpc/response/` below another level, or in a custom topic, is data.
    CHECK(is(classify_upstream(a, "/sys/a1PK/devA/x/rrpc/response/1"), kind::data));
    CHECK(is(classify_upstream(a, "/a1PK/devA/rrpc/response/1"), kind::data));
    CHECK(is(classify_upstream(a, "/sys/a1PK/devA/thing/event/property/post"), kind::data));
    CHECK(is(classify_upstream(a, "/sys/a1PK/devA/thing/service/SetWeight_reply"), kind::reply));
    CHECK(is(classify_upstream(a, "/a1PK/devA/user/get_reply"), kind::reply));
    CHECK(is(classify_upstream(a, "/broadcast/a1PK/x"), kind::refused));  // subscribe only
}

TEST_CASE("the device a Pub topic names", "[rrpc]") {
    CHECK(device_of_topic("/a1PK/devA/user/get") == device_key{"a1PK", "devA"});
    CHECK(device_of_topic("/sys/a1PK/devA/thing/x") == device_key{"a1PK", "devA"});
    CHECK(device_of_topic("/a1PK/devA") == device_key{"a1PK", "devA"});
    CHECK_FALSE(device_of_topic("a1PK/devA/user/get"));
    CHECK_FALSE(device_of_topic("/a1PK"));
    CHECK_FALSE(device_of_topic("/a1PK/"));
    CHECK_FALSE(device_of_topic("//devA/x"));
    CHECK_FALSE(device_of_topic(""));
}

TEST_CASE("custom RRPC topics must be the device's own", "[rrpc]") {
    CHECK(is_valid_custom_rrpc_topic(a, "/a1PK/devA/user/get"));
    CHECK_FALSE(is_valid_custom_rrpc_topic(a, "/a1PK/devB/user/get"));
    CHECK_FALSE(is_valid_custom_rrpc_topic(a, "a1PK/devA/user/get"));
    CHECK_FALSE(is_valid_custom_rrpc_topic(a, "/a1PK/devA/user/+"));
    CHECK_FALSE(is_valid_custom_rrpc_topic(a, "/a1PK/devA"));
    CHECK_FALSE(is_valid_custom_rrpc_topic(a, ""));
    // With /ext/rrpc/{id} in front, the longest still fits MQTT's topic field [MQTT-1.5.3].
    const std::string prefix = "/a1PK/devA/";
    const auto longest = prefix + std::string(max_topic_bytes - prefix.size(), 'x');
    CHECK(is_valid_custom_rrpc_topic(a, longest));
    CHECK(custom_rrpc_topic(18'446'744'073'709'551'615ULL, longest).size() <= 65'535);
    CHECK_FALSE(is_valid_custom_rrpc_topic(a, longest + "x"));
    CHECK_FALSE(is_device_topic(a, longest + "x"));
    CHECK(is_device_topic(a, longest));
}

TEST_CASE("the topic ACL keeps each device to its own topics", "[rrpc]") {
    const auto sub = access::subscribe;
    const auto pub = access::publish;
    // Everything the official device SDK subscribes at connect is granted.
    for (const auto* t :
         {"/sys/a1PK/devA/thing/event/property/post_reply",
          "/sys/a1PK/devA/thing/event/+/post_reply", "/shadow/get/a1PK/devA",
          "/ext/session/a1PK/devA/combine/login_reply", "/sys/a1PK/devA/rrpc/request/+",
          "/sys/a1PK/devA/thing/service/property/set"})
        CHECK(device_may_access(a, t, sub));
    CHECK(device_may_access(a, "/ext/rrpc/+/a1PK/devA/user/get", sub));
    CHECK(device_may_access(a, "/a1PK/devA/user/#", sub));
    CHECK(device_may_access(a, "/sys/a1PK/devA/#", sub));
    CHECK(device_may_access(a, "/broadcast/a1PK/all", sub));
    CHECK_FALSE(device_may_access(a, "/broadcast/a1PK/all", pub));

    // Another device's topics, and wildcards reaching them, are refused.
    CHECK_FALSE(device_may_access(a, "/sys/a1PK/devB/rrpc/request/+", sub));
    CHECK_FALSE(device_may_access(a, "/sys/a1PK/+/rrpc/request/+", sub));
    CHECK_FALSE(device_may_access(a, "/sys/+/devA/rrpc/request/+", sub));
    CHECK_FALSE(device_may_access(a, "/sys/a1PK/#", sub));
    CHECK_FALSE(device_may_access(a, "#", sub));
    CHECK_FALSE(device_may_access(a, "/#", sub));
    CHECK_FALSE(device_may_access(a, "/+/+/rrpc/request/+", sub));
    CHECK_FALSE(device_may_access(a, "/ext/rrpc/+/a1PK/devB/user/get", sub));
    CHECK_FALSE(device_may_access(a, "/ext/rrpc/#", sub));
    CHECK_FALSE(
        device_may_access(a, "/sys/a1PK/devA", sub));  // the bare prefix is no topic of its own
    CHECK_FALSE(device_may_access(a, "sys/a1PK/devA/x", sub));

    CHECK(device_may_access(a, "/sys/a1PK/devA/rrpc/response/1", pub));
    CHECK(device_may_access(a, "/ext/rrpc/1/a1PK/devA/user/get", pub));
    CHECK_FALSE(device_may_access(a, "/sys/a1PK/devB/rrpc/response/1", pub));
    CHECK_FALSE(device_may_access(a, "/ext/rrpc/1/a1PK/devB/user/get", pub));
    CHECK_FALSE(device_may_access(b, "/a1PK/devA/user/update", pub));
}

TEST_CASE("the Link SDKs' platform topics are the device's own, and no one else's", "[rrpc]") {
    const auto sub = access::subscribe;
    const auto pub = access::publish;
    // ext=1 sync services (linkkit.py): subscribed with a wildcard id, answered on the topic.
    CHECK(device_may_access(a, "/ext/rrpc/+/sys/a1PK/devA/thing/service/+", sub));
    CHECK(device_may_access(a, "/ext/rrpc/7/sys/a1PK/devA/thing/service/Echo", pub));
    CHECK_FALSE(device_may_access(a, "/ext/rrpc/+/sys/a1PK/devB/thing/service/+", sub));
    CHECK_FALSE(device_may_access(a, "/ext/rrpc/+/sys/+/devA/thing/service/+", sub));
    CHECK_FALSE(device_may_access(a, "/ext/rrpc/+/sys/#", sub));
    // C 3.x subscribes its error topic at connect; only the platform publishes on it.
    CHECK(device_may_access(a, "/ext/error/a1PK/devA", sub));
    CHECK_FALSE(device_may_access(a, "/ext/error/a1PK/devA", pub));
    CHECK_FALSE(device_may_access(a, "/ext/error/a1PK/devB", sub));
    // OTA: the version and the progress go up, the upgrade notice comes down.
    CHECK(device_may_access(a, "/ota/device/inform/a1PK/devA", pub));
    CHECK(device_may_access(a, "/ota/device/progress/a1PK/devA", pub));
    CHECK(device_may_access(a, "/ota/device/upgrade/a1PK/devA", sub));
    CHECK_FALSE(device_may_access(a, "/ota/device/inform/a1PK/devB", pub));
    CHECK_FALSE(device_may_access(a, "/ota/device/+/a1PK/+", sub));
    // An ext=1 answer names its call.
    const auto up = classify_upstream(a, "/ext/rrpc/42/sys/a1PK/devA/thing/service/Echo");
    CHECK(up.kind == upstream_kind::rrpc_reply);
    CHECK(up.message_id == 42);
    CHECK(classify_upstream(a, "/ext/rrpc/42/sys/a1PK/devB/thing/service/Echo").kind ==
          upstream_kind::refused);
}

namespace {
bool has_filter(const std::vector<std::string>& filters, std::string_view f) {
    return std::find(filters.begin(), filters.end(), f) != filters.end();
}
}  // namespace

TEST_CASE("a _ss=1 device's server-side subscriptions are all its own", "[rrpc]") {
    const auto filters = platform_subscriptions(a);
    CHECK(filters.size() == 25);
    CHECK(has_filter(filters, "/sys/a1PK/devA/thing/service/property/set"));
    for (const auto& f : filters) {
        INFO(f);
        CHECK(device_may_access(a, f, access::subscribe));
        CHECK_FALSE(device_may_access(b, f, access::subscribe));
    }
    const auto has = [&](std::string_view f) {
        return std::find(filters.begin(), filters.end(), f) != filters.end();
    };
    CHECK(has("/sys/a1PK/devA/thing/service/+"));
    CHECK(has("/sys/a1PK/devA/rrpc/request/+"));
    CHECK(has("/ext/rrpc/+/sys/a1PK/devA/thing/service/+"));
    CHECK(has("/ext/error/a1PK/devA"));
}
