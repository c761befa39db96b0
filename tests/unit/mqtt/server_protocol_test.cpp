#include "mqtt/server_protocol.hpp"

#include "mqtt/codec.hpp"
#include "mqtt/errc.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::mqtt;
using bytes = std::vector<std::uint8_t>;
using clock_type = server_protocol::clock;

namespace {

bytes wire(const packet& p) {
    bytes out;
    encode(p, out);
    return out;
}

connect device_connect(std::uint16_t keep_alive = 60) {
    connect c;
    c.client_id = "c|securemode=3,signmethod=hmacsha1|";
    c.keep_alive = keep_alive;
    c.username = "dn&pk";
    c.password = "pw";
    return c;
}

/// One scripted exchange: the bytes in, the events out and the bytes written back.
struct step {
    std::vector<protocol_event> events;
    bytes out;
    std::size_t consumed = 0;
};

step feed(server_protocol& p, const bytes& in, clock_type::time_point now = clock_type::now()) {
    step s;
    s.consumed = p.feed(in, now, s.events, s.out);
    return s;
}

server_protocol connected_protocol(clock_type::time_point now, std::uint16_t keep_alive = 60) {
    server_protocol p{1 << 16, now};
    auto s = feed(p, wire(device_connect(keep_alive)), now);
    REQUIRE(s.events.size() == 1);
    REQUIRE(std::holds_alternative<event::connect_request>(s.events[0]));
    bytes out;
    p.accept(false, out);
    REQUIRE(out == bytes{0x20, 0x02, 0x00, 0x00});
    return p;
}

}  // namespace

TEST_CASE("the first packet must be CONNECT", "[mqtt][MQTT-3.1.0-1]") {
    server_protocol p{1 << 16, clock_type::now()};
    const auto s = feed(p, wire(pingreq{}));
    REQUIRE(s.events.size() == 1);
    CHECK(std::get<event::violation>(s.events[0]).reason == errc::protocol_error);
    CHECK(s.out.empty());
    CHECK(p.current_state() == server_protocol::state::closed);
}

TEST_CASE("CONNECT of another protocol level gets CONNACK 1 and the end", "[mqtt][MQTT-3.1.2-2]") {
    server_protocol p{1 << 16, clock_type::now()};
    auto c = device_connect();
    c.level = 5;
    const auto s = feed(p, wire(c));
    CHECK(s.events.empty());
    CHECK(s.out == bytes{0x20, 0x02, 0x00, 0x01});
    CHECK(p.current_state() == server_protocol::state::closed);
}

TEST_CASE("feed stops after CONNECT until the application decides", "[mqtt]") {
    server_protocol p{1 << 16, clock_type::now()};
    auto in = wire(device_connect());
    const auto connect_size = in.size();
    const auto sub = wire(subscribe{1, {{"/sys/pk/dn/#", qos::at_least_once}}});
    in.insert(in.end(), sub.begin(), sub.end());
    auto s = feed(p, in);
    CHECK(s.consumed == connect_size);
    CHECK(p.current_state() == server_protocol::state::authenticating);
    bytes out;
    p.accept(false, out);
    s = feed(p, bytes(in.begin() + static_cast<std::ptrdiff_t>(connect_size), in.end()));
    REQUIRE(s.events.size() == 1);
    CHECK(std::holds_alternative<event::subscribe_request>(s.events[0]));
}

TEST_CASE("a refused CONNECT gets its code and closes", "[mqtt][MQTT-3.2.2-5]") {
    server_protocol p{1 << 16, clock_type::now()};
    feed(p, wire(device_connect()));
    bytes out;
    p.refuse(connect_return_code::bad_username_or_password, out);
    CHECK(out == bytes{0x20, 0x02, 0x00, 0x04});
    CHECK(p.current_state() == server_protocol::state::closed);
    CHECK(feed(p, wire(pingreq{})).events.empty());  // nothing more is read
}

TEST_CASE("a second CONNECT is a protocol violation", "[mqtt][MQTT-3.1.0-2]") {
    auto p = connected_protocol(clock_type::now());
    const auto s = feed(p, wire(device_connect()));
    REQUIRE(s.events.size() == 1);
    CHECK(std::get<event::violation>(s.events[0]).reason == errc::protocol_error);
}

TEST_CASE("PINGREQ is answered, QoS 1 PUBLISH acknowledged, QoS 2 refused", "[mqtt]") {
    auto p = connected_protocol(clock_type::now());
    auto s = feed(p, wire(pingreq{}));
    CHECK(s.out == bytes{0xD0, 0x00});  // [MQTT-3.12.4-1]
    CHECK(s.events.empty());

    s = feed(p, wire(publish{false, qos::at_least_once, false, "/pk/dn/up", 77, "x"}));
    CHECK(s.out == bytes{0x40, 0x02, 0x00, 77});  // [MQTT-4.3.2-2]
    REQUIRE(s.events.size() == 1);
    CHECK(std::get<event::message>(s.events[0]).publish.payload == "x");

    s = feed(p, wire(publish{false, qos::exactly_once, false, "/pk/dn/up", 78, "x"}));
    REQUIRE(s.events.size() == 1);
    CHECK(std::get<event::violation>(s.events[0]).reason == errc::qos_not_supported);
}

TEST_CASE("packets only a server sends are violations", "[mqtt]") {
    auto p = connected_protocol(clock_type::now());
    const auto s = feed(p, wire(connack{}));
    REQUIRE(s.events.size() == 1);
    CHECK(std::holds_alternative<event::violation>(s.events[0]));
}

TEST_CASE("UNSUBSCRIBE is acknowledged, DISCONNECT ends cleanly", "[mqtt]") {
    auto p = connected_protocol(clock_type::now());
    auto s = feed(p, wire(unsubscribe{4, {"/sys/pk/dn/#"}}));
    CHECK(s.out == bytes{0xB0, 0x02, 0x00, 0x04});
    REQUIRE(s.events.size() == 1);
    s = feed(p, wire(disconnect{}));
    REQUIRE(s.events.size() == 1);
    CHECK(std::holds_alternative<event::disconnected>(s.events[0]));
    CHECK(p.current_state() == server_protocol::state::closed);
}

TEST_CASE("our QoS 1 publishes get fresh ids and are acknowledged once", "[mqtt]") {
    auto p = connected_protocol(clock_type::now());
    bytes out;
    const auto a = p.publish("/sys/pk/dn/x", "1", qos::at_least_once, false, out).value();
    const auto b = p.publish("/sys/pk/dn/x", "2", qos::at_least_once, false, out).value();
    CHECK(a != 0);
    CHECK(b != a);
    CHECK(p.inflight() == 2);
    CHECK(p.publish("/sys/pk/dn/x", "3", qos::at_most_once, false, out).value() == 0);
    // What cannot be framed takes no packet id and writes nothing.
    const auto before = out.size();
    CHECK_FALSE(p.publish(std::string(65'536, 't'), "4", qos::at_least_once, false, out));
    CHECK(out.size() == before);
    CHECK(p.inflight() == 2);
    auto s = feed(p, wire(puback{a}));
    REQUIRE(s.events.size() == 1);
    CHECK(std::get<event::acknowledged>(s.events[0]).packet_id == a);
    CHECK(feed(p, wire(puback{a})).events.empty());  // a duplicate PUBACK is ignored
    CHECK(p.inflight() == 1);
}

TEST_CASE("keep-alive deadline is 1.5x after the last packet", "[mqtt][MQTT-3.1.2-24]") {
    const auto t0 = clock_type::now();
    auto p = connected_protocol(t0, 60);
    CHECK(p.keep_alive_deadline() == t0 + std::chrono::seconds{90});
    feed(p, wire(pingreq{}), t0 + std::chrono::seconds{50});
    CHECK(p.last_activity() == t0 + std::chrono::seconds{50});
    CHECK(p.keep_alive_deadline() == t0 + std::chrono::seconds{140});
    auto none = connected_protocol(t0, 0);
    CHECK_FALSE(none.keep_alive_deadline());
}

TEST_CASE("oversize and malformed frames close the connection", "[mqtt]") {
    server_protocol p{1024, clock_type::now()};
    auto s = feed(p, bytes{0x10, 0xFF, 0xFF, 0xFF, 0x7F});
    REQUIRE(s.events.size() == 1);
    CHECK(std::get<event::violation>(s.events[0]).reason == errc::packet_too_large);

    server_protocol q{1024, clock_type::now()};
    s = feed(q, bytes{0x10, 0x80, 0x80, 0x80, 0x80, 0x01});
    REQUIRE(s.events.size() == 1);
    CHECK(std::get<event::violation>(s.events[0]).reason == errc::malformed_packet);
}

TEST_CASE("a partial frame is left for the next feed", "[mqtt]") {
    auto p = connected_protocol(clock_type::now());
    const auto ping = wire(pingreq{});
    auto s = feed(p, bytes{ping[0]});
    CHECK(s.consumed == 0);
    CHECK(s.out.empty());
    s = feed(p, ping);
    CHECK(s.consumed == 2);
    CHECK(s.out == bytes{0xD0, 0x00});
}
