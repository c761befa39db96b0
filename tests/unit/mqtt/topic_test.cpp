#include "mqtt/topic.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::mqtt;

TEST_CASE("topic names and filters", "[mqtt][MQTT-4.7]") {
    CHECK(is_valid_topic_name("/sys/pk/dn/rrpc/request/1"));
    CHECK_FALSE(is_valid_topic_name(""));
    CHECK_FALSE(is_valid_topic_name("a/+/b"));
    CHECK_FALSE(is_valid_topic_name("a/#"));

    CHECK(is_valid_topic_filter("#"));
    CHECK(is_valid_topic_filter("+"));
    CHECK(is_valid_topic_filter("a/+/b/#"));
    CHECK(is_valid_topic_filter("/sys/pk/dn/rrpc/request/+"));
    CHECK_FALSE(is_valid_topic_filter(""));
    CHECK_FALSE(is_valid_topic_filter("a/#/b"));  // [MQTT-4.7.1-2]
    CHECK_FALSE(is_valid_topic_filter("a/b#"));
    CHECK_FALSE(is_valid_topic_filter("a/+b"));  // [MQTT-4.7.1-3]
}

TEST_CASE("filter matching", "[mqtt][MQTT-4.7.1]") {
    CHECK(topic_matches("/sys/pk/dn/rrpc/request/+", "/sys/pk/dn/rrpc/request/123"));
    CHECK_FALSE(topic_matches("/sys/pk/dn/rrpc/request/+", "/sys/pk/dn/rrpc/request/1/2"));
    CHECK_FALSE(topic_matches("/sys/pk/dn/rrpc/request/+", "/sys/pk/dn/rrpc/request"));
    CHECK(topic_matches("sport/#", "sport"));  // '#' includes the parent [MQTT-4.7.1-2]
    CHECK(topic_matches("sport/#", "sport/tennis/player1"));
    CHECK(topic_matches("+/+", "/finance"));
    CHECK(topic_matches("/+", "/finance"));
    CHECK_FALSE(topic_matches("+", "/finance"));
    CHECK(topic_matches("#", "a/b/c"));
    CHECK_FALSE(topic_matches("#", "$SYS/x"));  // [MQTT-4.7.2-1]
    CHECK_FALSE(topic_matches("+/x", "$SYS/x"));
    CHECK(topic_matches("$SYS/#", "$SYS/x"));
    CHECK(topic_matches("a/b", "a/b"));
    CHECK_FALSE(topic_matches("a/b", "a/b/c"));
    CHECK(topic_matches("/ext/rrpc/+/pk/dn/user/get", "/ext/rrpc/42/pk/dn/user/get"));
}
