#include "mqtt/session_state.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace rrpcd::mqtt;

TEST_CASE("a topic gets the highest QoS of the filters that match it", "[mqtt][MQTT-3.3.5-1]") {
    session_state s;
    CHECK_FALSE(s.match("/a1/dev1/user/get"));
    s.subscribe("/a1/dev1/user/+", qos::at_most_once);
    CHECK(s.match("/a1/dev1/user/get") == qos::at_most_once);
    s.subscribe("/a1/dev1/#", qos::at_least_once);
    CHECK(s.match("/a1/dev1/user/get") == qos::at_least_once);
    CHECK_FALSE(s.match("/a1/dev2/user/get"));
    CHECK(s.subscriptions() == 2);
}

TEST_CASE("subscribing to a held filter replaces its QoS", "[mqtt][MQTT-3.8.4-3]") {
    session_state s;
    s.subscribe("/a1/dev1/#", qos::at_least_once);
    s.subscribe("/a1/dev1/#", qos::at_most_once);
    CHECK(s.subscriptions() == 1);
    CHECK(s.match("/a1/dev1/x") == qos::at_most_once);
    CHECK(s.holds("/a1/dev1/#"));
    CHECK_FALSE(s.holds("/a1/dev1/+"));
}

TEST_CASE("unsubscribe removes exactly the filters named", "[mqtt][MQTT-3.10.4-1]") {
    session_state s;
    s.subscribe("/a1/dev1/#", qos::at_least_once);
    s.subscribe("/a1/dev1/user/+", qos::at_most_once);
    const std::vector<std::string> gone{"/a1/dev1/user/+", "/never/held"};
    s.unsubscribe(gone);
    CHECK(s.subscriptions() == 1);
    // A filter is compared as a string, not matched: '#' does not remove '/a1/dev1/#'.
    const std::vector<std::string> wildcard{"#"};
    s.unsubscribe(wildcard);
    CHECK(s.match("/a1/dev1/user/get") == qos::at_least_once);
}

TEST_CASE("a PUBACK hands back the message id it acknowledges, once", "[mqtt]") {
    session_state s;
    s.sent(1, 1001);
    s.sent(2, 1002);
    CHECK(s.in_flight() == 2);
    CHECK(s.acknowledged(2) == 1002u);
    CHECK_FALSE(s.acknowledged(2));  // a duplicate PUBACK
    CHECK_FALSE(s.acknowledged(9));  // a stray one
    CHECK(s.acknowledged(1) == 1001u);
    CHECK(s.in_flight() == 0);
}

TEST_CASE("session_state counts the bytes of the filters it holds", "[mqtt]") {
    session_state s;
    s.subscribe("/a/b", qos::at_most_once);
    s.subscribe("/a/b", qos::at_least_once);  // the same filter: its QoS changes, not its bytes
    s.subscribe("/c/d/e", qos::at_most_once);
    CHECK(s.filter_bytes() == 10);
    const std::string gone[] = {"/a/b", "/never"};
    s.unsubscribe(gone);
    CHECK(s.filter_bytes() == 6);
    CHECK(s.subscriptions() == 1);
}
