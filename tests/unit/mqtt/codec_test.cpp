#include "mqtt/codec.hpp"

#include "catch_result.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

using namespace rrpcd::mqtt;
using bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::size_t big = 1 << 20;

/// Decodes exactly one whole frame from `in`.
boost::system::result<packet> decode_all(const bytes& in) {
    const auto f = read_frame(in, big);
    REQUIRE(f.status == frame_result::status::complete);
    REQUIRE(f.size == in.size());
    return decode(f.header, f.body);
}

bytes encoded(const packet& p) {
    bytes out;
    encode(p, out);
    return out;
}

// CONNECT from the official device SDK's shape: MQTT 3.1.1, user name + password, clean 0,
// keep-alive 60.
const bytes connect_bytes = {
    0x10, 0x1A,                        // CONNECT, remaining length 26
    0x00, 0x04, 'M', 'Q', 'T',  'T',   // protocol name [MQTT-3.1.2-1]
    0x04,                              // level 4 = 3.1.1
    0xC0,                              // flags: user name, password, clean session 0
    0x00, 0x3C,                        // keep-alive 60 s
    0x00, 0x02, 'i', 'd',              // client id
    0x00, 0x04, 'd', 'n', '&',  'p',   // user name
    0x00, 0x04, 'p', 'w', 0x00, 0xFF,  // password (binary)
};

const bytes publish_qos1_bytes = {
    0x32, 0x0A,                  // PUBLISH, QoS 1, length 10
    0x00, 0x03, 'a',  '/', 'b',  // topic
    0x00, 0x07,                  // packet id 7
    0x00, 0xFE, 0x41,            // binary payload
};

const bytes subscribe_bytes = {
    0x82, 0x0E,                       // SUBSCRIBE, reserved flags 0010 [MQTT-3.8.1-1]
    0x00, 0x05,                       // packet id 5
    0x00, 0x03, 'a', '/', '+', 0x01,  // filter a/+ QoS 1
    0x00, 0x03, 'b', '/', '#', 0x00,  // filter b/# QoS 0
};

}  // namespace

TEST_CASE("varint encodes the spec's boundary values", "[mqtt][MQTT-2.2.3]") {
    const std::vector<std::pair<std::uint32_t, bytes>> table = {
        {0, {0x00}},
        {127, {0x7F}},
        {128, {0x80, 0x01}},
        {16383, {0xFF, 0x7F}},
        {16384, {0x80, 0x80, 0x01}},
        {2097151, {0xFF, 0xFF, 0x7F}},
        {2097152, {0x80, 0x80, 0x80, 0x01}},
        {268435455, {0xFF, 0xFF, 0xFF, 0x7F}},
    };
    for (const auto& [value, expected] : table) {
        bytes out;
        encode_varint(value, out);
        CHECK(out == expected);
        // Read back as the remaining length of a frame header.
        bytes frame{0x30};
        frame.insert(frame.end(), expected.begin(), expected.end());
        const auto f = read_frame(frame, 1U << 30);
        CHECK(f.remaining_length == value);
        // Only the empty body is already complete; the others wait for their bytes.
        CHECK(f.status ==
              (value == 0 ? frame_result::status::complete : frame_result::status::need_more));
    }
}

TEST_CASE("a fifth length byte is malformed, a short header needs more", "[mqtt][MQTT-2.2.3]") {
    CHECK(read_frame(bytes{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, big).status ==
          frame_result::status::malformed);
    CHECK(read_frame(bytes{0x30, 0xFF, 0xFF}, big).status == frame_result::status::need_more);
    CHECK(read_frame(bytes{}, big).status == frame_result::status::need_more);
}

TEST_CASE("the packet size limit applies before the body is buffered", "[mqtt]") {
    // A 256 MB claim with no body at all is refused from its 5-byte header.
    const auto f = read_frame(bytes{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, 256 * 1024);
    CHECK(f.status == frame_result::status::too_large);
    CHECK(f.remaining_length == 268435455);
    // A frame of exactly the limit passes.
    bytes exact{0x30, 0x06, 0x00, 0x01, 'a', 'x', 'y', 'z'};
    CHECK(read_frame(exact, exact.size()).status == frame_result::status::complete);
    CHECK(read_frame(exact, exact.size() - 1).status == frame_result::status::too_large);
}

TEST_CASE("CONNECT decodes field by field and encodes to the same bytes", "[mqtt][MQTT-3.1]") {
    const auto p = decode_all(connect_bytes);
    REQUIRE(p);
    const auto& c = std::get<connect>(*p);
    CHECK(c.protocol_name == "MQTT");
    CHECK(c.level == 4);
    CHECK_FALSE(c.clean_session);
    CHECK(c.keep_alive == 60);
    CHECK(c.client_id == "id");
    CHECK(c.username == "dn&p");
    CHECK(c.password == std::string("pw\0\xFF", 4));
    CHECK_FALSE(c.will);
    CHECK(encoded(c) == connect_bytes);
}

TEST_CASE("CONNECT with a will", "[mqtt][MQTT-3.1.2-9]") {
    connect c;
    c.client_id = "c";
    c.will = will_message{"w/t", "bye", qos::at_least_once, true};
    const auto wire = encoded(c);
    // flags: will retain 0x20 | will QoS 1 0x08 | will 0x04 | clean 0x02
    CHECK(wire[9] == 0x2E);
    const auto back = decode_all(wire);
    REQUIRE(back);
    const auto& d = std::get<connect>(*back);
    REQUIRE(d.will);
    CHECK(d.will->topic == "w/t");
    CHECK(d.will->payload == "bye");
    CHECK(d.will->qos == qos::at_least_once);
    CHECK(d.will->retain);
}

TEST_CASE("CONNECT violations", "[mqtt]") {
    auto with = [](std::size_t index, std::uint8_t value) {
        auto b = connect_bytes;
        b[index] = value;
        return b;
    };
    SECTION("reserved connect flag [MQTT-3.1.2-3]") {
        CHECK(decode_all(with(9, 0xC1)).error() == errc::malformed_packet);
    }
    SECTION("password without user name [MQTT-3.1.2-22]") {
        connect c;
        c.client_id = "x";
        auto b = encoded(c);
        b[9] = 0x42;  // password flag, no user name flag
        CHECK(decode_all(b).error() == errc::malformed_packet);
    }
    SECTION("will QoS without will flag [MQTT-3.1.2-13]") {
        CHECK(decode_all(with(9, 0xC8)).error() == errc::malformed_packet);
    }
    SECTION("fixed header flags must be 0 [MQTT-2.2.2-2]") {
        CHECK(decode_all(with(0, 0x11)).error() == errc::malformed_packet);
    }
    SECTION("another protocol name [MQTT-3.1.2-1]") {
        CHECK(decode_all(with(4, 'X')).error() == errc::protocol_error);
    }
    SECTION("another level decodes, for CONNACK 1 [MQTT-3.1.2-2]") {
        const auto p = decode_all(with(8, 3));
        REQUIRE(p);
        CHECK(std::get<connect>(*p).level == 3);
    }
    SECTION("client id that is not UTF-8 [MQTT-1.5.3-1]") {
        CHECK(decode_all(with(14, 0xC3)).error() == errc::malformed_packet);
    }
    SECTION("client id with U+0000 [MQTT-1.5.3-2]") {
        CHECK(decode_all(with(14, 0x00)).error() == errc::malformed_packet);
    }
    SECTION("trailing garbage") {
        auto b = connect_bytes;
        b.push_back(0x00);
        b[1] = static_cast<std::uint8_t>(b.size() - 2);
        CHECK(decode_all(b).error() == errc::malformed_packet);
    }
}

TEST_CASE("every truncation of a CONNECT body is malformed", "[mqtt]") {
    // The frame length is honest but the body stops short: one failing vector per cut.
    for (std::size_t cut = 2; cut < connect_bytes.size(); ++cut) {
        bytes b(connect_bytes.begin(), connect_bytes.begin() + static_cast<std::ptrdiff_t>(cut));
        b[1] = static_cast<std::uint8_t>(cut - 2);
        INFO("cut at " << cut);
        CHECK_FALSE(decode_all(b));
    }
}

TEST_CASE("PUBLISH QoS 1 decodes and encodes byte for byte", "[mqtt][MQTT-3.3]") {
    const auto p = decode_all(publish_qos1_bytes);
    REQUIRE(p);
    const auto& pub = std::get<publish>(*p);
    CHECK(pub.qos == qos::at_least_once);
    CHECK(pub.topic == "a/b");
    CHECK(pub.packet_id == 7);
    CHECK(pub.payload == std::string("\x00\xFE\x41", 3));
    CHECK(encoded(pub) == publish_qos1_bytes);
}

TEST_CASE("PUBLISH QoS 0 has no packet id, and an empty payload is allowed", "[mqtt][MQTT-3.3.2]") {
    const bytes wire{0x30, 0x03, 0x00, 0x01, 't'};
    const auto p = decode_all(wire);
    REQUIRE(p);
    CHECK(std::get<publish>(*p).payload.empty());
    CHECK(encoded(*p) == wire);
    bytes out;
    CHECK(encode_publish("t", "", qos::at_most_once, 0, false, out));
    CHECK(out == wire);
}

TEST_CASE("a redelivered QoS 1 PUBLISH carries DUP, QoS 0 never does", "[mqtt][MQTT-3.3.1-1]") {
    bytes out;
    REQUIRE(encode_publish("t", "x", qos::at_least_once, 9, true, out));
    CHECK(out == bytes{0x3A, 0x06, 0x00, 0x01, 't', 0x00, 0x09, 'x'});
    out.clear();
    REQUIRE(encode_publish("t", "x", qos::at_most_once, 0, true, out));  // [MQTT-3.3.1-2]
    CHECK(out == bytes{0x30, 0x04, 0x00, 0x01, 't', 'x'});
}

TEST_CASE("what MQTT cannot frame is never encoded", "[mqtt][MQTT-1.5.3][MQTT-2.2.3]") {
    bytes out{0xEE};
    // A topic of 65,535 bytes fits the length prefix; one more does not.
    const std::string longest(65'535, 'a');
    CHECK(encode_publish(longest, "", qos::at_most_once, 0, false, out));
    CHECK(out.size() == 1 + 1 + 3 + 2 + 65'535);
    out.assign(1, 0xEE);
    const std::string too_long(65'536, 'a');
    CHECK(encode_publish(too_long, "p", qos::at_least_once, 1, false, out).error() ==
          errc::topic_name_invalid);
    CHECK(out == bytes{0xEE});  // nothing appended
    publish p;
    p.topic = too_long;
    encode(p, out);
    CHECK(out == bytes{0xEE});
}

TEST_CASE("PUBLISH violations", "[mqtt]") {
    SECTION("QoS 3 [MQTT-3.3.1-4]") {
        CHECK(decode_all(bytes{0x36, 0x05, 0x00, 0x01, 't', 0x00, 0x01}).error() ==
              errc::malformed_packet);
    }
    SECTION("DUP with QoS 0 [MQTT-3.3.1-2]") {
        CHECK(decode_all(bytes{0x38, 0x03, 0x00, 0x01, 't'}).error() == errc::malformed_packet);
    }
    SECTION("wildcard in the topic [MQTT-3.3.2-2]") {
        CHECK(decode_all(bytes{0x30, 0x05, 0x00, 0x03, 'a', '/', '#'}).error() ==
              errc::topic_name_invalid);
        CHECK(decode_all(bytes{0x30, 0x03, 0x00, 0x01, '+'}).error() == errc::topic_name_invalid);
    }
    SECTION("empty topic [MQTT-4.7.3-1]") {
        CHECK(decode_all(bytes{0x30, 0x02, 0x00, 0x00}).error() == errc::topic_name_invalid);
    }
    SECTION("packet id 0 [MQTT-2.3.1-1]") {
        CHECK(decode_all(bytes{0x32, 0x05, 0x00, 0x01, 't', 0x00, 0x00}).error() ==
              errc::malformed_packet);
    }
    SECTION("topic not UTF-8") {
        CHECK(decode_all(bytes{0x30, 0x03, 0x00, 0x01, 0xFF}).error() == errc::malformed_packet);
    }
    SECTION("topic longer than the packet") {
        CHECK(decode_all(bytes{0x30, 0x03, 0x00, 0x09, 't'}).error() == errc::malformed_packet);
    }
}

TEST_CASE("SUBSCRIBE decodes field by field", "[mqtt][MQTT-3.8]") {
    const auto p = decode_all(subscribe_bytes);
    REQUIRE(p);
    const auto& s = std::get<subscribe>(*p);
    CHECK(s.packet_id == 5);
    REQUIRE(s.subscriptions.size() == 2);
    CHECK(s.subscriptions[0].filter == "a/+");
    CHECK(s.subscriptions[0].qos == qos::at_least_once);
    CHECK(s.subscriptions[1].filter == "b/#");
    CHECK(encoded(s) == subscribe_bytes);
}

TEST_CASE("SUBSCRIBE violations", "[mqtt]") {
    SECTION("reserved flags [MQTT-3.8.1-1]") {
        auto b = subscribe_bytes;
        b[0] = 0x80;
        CHECK(decode_all(b).error() == errc::malformed_packet);
    }
    SECTION("QoS 3 / reserved bits [MQTT-3-8.3-4]") {
        auto b = subscribe_bytes;
        b[9] = 0x03;
        CHECK(decode_all(b).error() == errc::malformed_packet);
        b[9] = 0x41;
        CHECK(decode_all(b).error() == errc::malformed_packet);
    }
    SECTION("no filter [MQTT-3.8.3-3]") {
        CHECK(decode_all(bytes{0x82, 0x02, 0x00, 0x01}).error() == errc::protocol_error);
    }
    SECTION("bad filter") {
        CHECK(decode_all(bytes{0x82, 0x07, 0x00, 0x01, 0x00, 0x02, 'a', '#', 0x00}).error() ==
              errc::topic_filter_invalid);
    }
}

TEST_CASE("server packets encode to the spec bytes", "[mqtt]") {
    CHECK(encoded(connack{false, connect_return_code::accepted}) == bytes{0x20, 0x02, 0x00, 0x00});
    CHECK(encoded(connack{true, connect_return_code::bad_username_or_password}) ==
          bytes{0x20, 0x02, 0x01, 0x04});
    CHECK(encoded(puback{0x1234}) == bytes{0x40, 0x02, 0x12, 0x34});
    CHECK(encoded(suback{5, {0x01, 0x80}}) == bytes{0x90, 0x04, 0x00, 0x05, 0x01, 0x80});
    CHECK(encoded(unsuback{9}) == bytes{0xB0, 0x02, 0x00, 0x09});
    CHECK(encoded(pingresp{}) == bytes{0xD0, 0x00});
    CHECK(encoded(pingreq{}) == bytes{0xC0, 0x00});
    CHECK(encoded(disconnect{}) == bytes{0xE0, 0x00});
    CHECK(encoded(unsubscribe{3, {"a/b"}}) ==
          bytes{0xA2, 0x07, 0x00, 0x03, 0x00, 0x03, 'a', '/', 'b'});
}

TEST_CASE("every packet round-trips", "[mqtt]") {
    const std::vector<packet> packets = {
        connect{},
        connack{true, connect_return_code::not_authorized},
        publish{false, qos::at_least_once, false, "x/y", 9, std::string(300, 'p')},
        puback{1},
        subscribe{2, {{"a/#", qos::at_most_once}}},
        suback{2, {0x00}},
        unsubscribe{3, {"a/#", "b"}},
        unsuback{3},
        pingreq{},
        pingresp{},
        disconnect{},
    };
    for (const auto& p : packets) {
        const auto wire = encoded(p);
        const auto back = decode_all(wire);
        REQUIRE(back);
        CHECK(back->index() == p.index());
        CHECK(encoded(*back) == wire);
    }
}

TEST_CASE("empty-bodied packets refuse flags and bodies, QoS 2 flows are refused", "[mqtt]") {
    CHECK(decode_all(bytes{0xC1, 0x00}).error() == errc::malformed_packet);
    CHECK(decode_all(bytes{0xE0, 0x01, 0x00}).error() == errc::malformed_packet);
    CHECK(decode_all(bytes{0x50, 0x02, 0x00, 0x01}).error() == errc::qos_not_supported);
    CHECK(decode_all(bytes{0x00, 0x00}).error() == errc::malformed_packet);  // reserved type 0
    CHECK(decode_all(bytes{0xF0, 0x00}).error() == errc::malformed_packet);  // reserved type 15
    CHECK(decode_all(bytes{0x40, 0x02, 0x00, 0x00}).error() ==
          errc::malformed_packet);  // PUBACK id 0
}

TEST_CASE("framing: a packet split at every offset needs more until it is whole", "[mqtt]") {
    bytes stream = connect_bytes;
    stream.insert(stream.end(), publish_qos1_bytes.begin(), publish_qos1_bytes.end());
    for (std::size_t cut = 0; cut < connect_bytes.size(); ++cut) {
        const std::span<const std::uint8_t> prefix{stream.data(), cut};
        CHECK(read_frame(prefix, big).status == frame_result::status::need_more);
    }
    const auto first = read_frame(stream, big);
    REQUIRE(first.status == frame_result::status::complete);
    CHECK(first.size == connect_bytes.size());
    const auto second = read_frame(std::span{stream}.subspan(first.size), big);
    REQUIRE(second.status == frame_result::status::complete);
    CHECK(second.size == publish_qos1_bytes.size());
}

TEST_CASE("MQTT UTF-8 validation", "[mqtt][MQTT-1.5.3-1]") {
    CHECK(is_valid_mqtt_utf8("plain/ascii"));
    CHECK(is_valid_mqtt_utf8("h\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80"));
    CHECK_FALSE(is_valid_mqtt_utf8(std::string_view("a\0b", 3)));
    CHECK_FALSE(is_valid_mqtt_utf8("\xC0\x80"));          // overlong
    CHECK_FALSE(is_valid_mqtt_utf8("\xED\xA0\x80"));      // surrogate
    CHECK_FALSE(is_valid_mqtt_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
    CHECK_FALSE(is_valid_mqtt_utf8("\xE4\xB8"));          // truncated
    CHECK_FALSE(is_valid_mqtt_utf8("\xFF"));
}
