#include "rrpc/topics.hpp"

#include <catch2/catch.hpp>

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
    CHECK(reply_message_id(a, "/sys/a1PK/devA/rrpc/response/42") == 42U);
    CHECK(reply_message_id(a, "/ext/rrpc/42/a1PK/devA/user/get") == 42U);
    CHECK_FALSE(reply_message_id(a, "/sys/a1PK/devB/rrpc/response/42"));  // another device's topic
    CHECK_FALSE(reply_message_id(a, "/sys/a1PK/devA/rrpc/response/4x2"));
    CHECK_FALSE(reply_message_id(a, "/sys/a1PK/devA/rrpc/response/"));
    CHECK_FALSE(reply_message_id(a, "/sys/a1PK/devA/rrpc/response/99999999999999999999999"));
    CHECK(is_rrpc_reply_topic("/ext/rrpc/1/x"));
    CHECK(is_rrpc_reply_topic("/sys/a1PK/devA/rrpc/response/1"));
    CHECK_FALSE(is_rrpc_reply_topic("/sys/a1PK/devA/thing/event/property/post"));
}

TEST_CASE("custom RRPC topics must be the device's own", "[rrpc]") {
    CHECK(is_valid_custom_rrpc_topic(a, "/a1PK/devA/user/get"));
    CHECK_FALSE(is_valid_custom_rrpc_topic(a, "/a1PK/devB/user/get"));
    CHECK_FALSE(is_valid_custom_rrpc_topic(a, "a1PK/devA/user/get"));
    CHECK_FALSE(is_valid_custom_rrpc_topic(a, "/a1PK/devA/user/+"));
    CHECK_FALSE(is_valid_custom_rrpc_topic(a, "/a1PK/devA"));
    CHECK_FALSE(is_valid_custom_rrpc_topic(a, ""));
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
