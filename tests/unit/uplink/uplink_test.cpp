#include "uplink/consumer_login.hpp"
#include "uplink/event.hpp"
#include "uplink/group_queue.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

using namespace rrpcd;
using rrpcd::uplink::group_queue;

namespace {

// The platform's documented vector (alibaba-amqp.md): AK testAK, secret testSecret.
constexpr std::string_view node_sample_user =
    "c1|authMode=aksign,signMethod=hmacsha1,timestamp=1573489088171,authId=testAK,"
    "iotInstanceId=,consumerGroupId=DEFAULT_GROUP|";

std::shared_ptr<const uplink::event> message(std::uint64_t id, std::size_t body = 10) {
    return std::make_shared<const uplink::event>(uplink::event{.id = id,
                                                               .what = uplink::kind::custom,
                                                               .product_key = "a1PK",
                                                               .topic = "/a1PK/dev1/user/x",
                                                               .body = std::string(body, 'b')});
}

}  // namespace

TEST_CASE("consumer user name: the official Node sample's form parses") {
    const auto login = uplink::parse_consumer_login(node_sample_user);
    REQUIRE(login.has_value());
    CHECK(login->client_id == "c1");
    CHECK_FALSE(login->sts);
    CHECK(login->sign_method == kit::hmac_algorithm::sha1);
    CHECK(login->timestamp == "1573489088171");
    CHECK(login->auth_id == "testAK");
    CHECK(login->instance_id.empty());
    CHECK(login->group == "DEFAULT_GROUP");
}

TEST_CASE("consumer user name: pairs in any order, signMethod in any case (the Go sample)") {
    const auto go = uplink::parse_consumer_login(
        "go-1|authMode=aksign,signMethod=Hmacsha1,consumerGroupId=G1,authId=testAK,"
        "iotInstanceId=iot-x,timestamp=42|");
    REQUIRE(go.has_value());
    CHECK(go->sign_method == kit::hmac_algorithm::sha1);
    CHECK(go->group == "G1");
    CHECK(go->instance_id == "iot-x");
    CHECK(go->timestamp == "42");
    const auto java = uplink::parse_consumer_login(
        "java-0|iotInstanceId=,authMode=aksign,signMethod=HMACMD5,consumerGroupId=G,"
        "authId=AK,timestamp=1|");
    REQUIRE(java.has_value());
    CHECK(java->sign_method == kit::hmac_algorithm::md5);
    const auto sha256 = uplink::parse_consumer_login(
        "x|authMode=aksign,signMethod=hmacsha256,timestamp=1,authId=AK,consumerGroupId=G,"
        "someFutureKey=1|");
    REQUIRE(sha256.has_value());  // a pair the platform does not define is ignored
    CHECK(sha256->sign_method == kit::hmac_algorithm::sha256);
}

TEST_CASE("consumer user name: what is refused, and why") {
    const auto refused = [](std::string_view user) {
        const auto r = uplink::parse_consumer_login(user);
        REQUIRE_FALSE(r.has_value());
        return r.error();
    };
    CHECK_THAT(refused(""), Catch::Contains("clientId|"));
    CHECK_THAT(refused("c1"), Catch::Contains("clientId|"));
    CHECK_THAT(refused("c1|authMode=aksign"), Catch::Contains("clientId|"));
    CHECK_THAT(refused("|authMode=aksign,signMethod=hmacsha1,timestamp=1,authId=A,"
                       "consumerGroupId=G|"),
               Catch::Contains("clientId"));
    CHECK_THAT(refused("c|authMode=appkey,signMethod=hmacsha1,timestamp=1,authId=A,"
                       "consumerGroupId=G|"),
               Catch::Contains("authMode"));
    CHECK_THAT(refused("c|authMode=aksign,signMethod=sha1,timestamp=1,authId=A,"
                       "consumerGroupId=G|"),
               Catch::Contains("signMethod"));
    CHECK_THAT(refused("c|authMode=aksign,signMethod=hmacsha1,timestamp=now,authId=A,"
                       "consumerGroupId=G|"),
               Catch::Contains("timestamp"));
    CHECK_THAT(refused("c|authMode=aksign,signMethod=hmacsha1,timestamp=1,consumerGroupId=G|"),
               Catch::Contains("authId"));
    CHECK_THAT(refused("c|authMode=aksign,signMethod=hmacsha1,timestamp=1,authId=A|"),
               Catch::Contains("consumerGroupId"));
    CHECK_THAT(refused("c|authMode=aksign,authMode=aksign,signMethod=hmacsha1,timestamp=1,"
                       "authId=A,consumerGroupId=G|"),
               Catch::Contains("twice"));
    CHECK_THAT(refused("c|authMode=ststoken,signMethod=hmacsha1,timestamp=1,authId=A,"
                       "consumerGroupId=G|"),
               Catch::Contains("securityToken"));
    CHECK_THAT(refused("c|authMode=aksign,signMethod|"), Catch::Contains("without '='"));
    CHECK_THAT(refused(std::string(3000, 'x')), Catch::Contains("2048"));
    // Every truncation of a good user name is refused, none crashes.
    for (std::size_t n = 0; n < node_sample_user.size(); ++n)
        CHECK_FALSE(uplink::parse_consumer_login(node_sample_user.substr(0, n)).has_value());
}

TEST_CASE("consumer password: the platform's test vectors, each signMethod and ststoken") {
    auto login = *uplink::parse_consumer_login(
        "c|authMode=aksign,signMethod=hmacsha1,timestamp=1573489088171,authId=testAK,"
        "consumerGroupId=G|");
    CHECK(uplink::string_to_sign(login) == "authId=testAK&timestamp=1573489088171");
    CHECK(uplink::expected_password(login, "testSecret") == "qHhj+YmgbaRkdOyf45O9qC6CWxE=");
    login.sign_method = kit::hmac_algorithm::md5;
    CHECK(uplink::expected_password(login, "testSecret") == "57rxcsCDq9vJjxYvNcckeQ==");
    login.sign_method = kit::hmac_algorithm::sha256;
    CHECK(uplink::expected_password(login, "testSecret") ==
          "CrLlIbrtbLUyvmFirKKRkcJwZykXAz8QHM/GMBinu34=");
    auto sts = *uplink::parse_consumer_login(
        "c|authMode=ststoken,securityToken=tok123,signMethod=hmacsha1,timestamp=1573489088171,"
        "authId=testAK,consumerGroupId=G|");
    CHECK(uplink::string_to_sign(sts) ==
          "authId=testAK&securityToken=tok123&timestamp=1573489088171");
    CHECK(uplink::expected_password(sts, "testSecret") == "ON7AkxDYFL+/ftcjXRrJCpr5jno=");
    const auto raw =
        kit::hmac(kit::hmac_algorithm::sha1, "testSecret", "authId=testAK&timestamp=1573489088171");
    CHECK(uplink::password_matches("qHhj+YmgbaRkdOyf45O9qC6CWxE=", raw));
    CHECK_FALSE(uplink::password_matches("qHhj+YmgbaRkdOyf45O9qC6CWxF=", raw));
    CHECK_FALSE(uplink::password_matches("", raw));
}

TEST_CASE("uplink envelope: round trip, and every truncation refused") {
    const uplink::event e{.id = 77,
                          .what = uplink::kind::property,
                          .product_key = "a1PK",
                          .topic = "/a1PK/dev1/thing/event/property/post",
                          .body = std::string{"{\"items\":{}}\0\xff", 14},
                          .generate_ms = 1'796'000'000'123,
                          .qos = 1};
    const auto stored = uplink::encode(e);
    const auto back = uplink::decode(77, stored);
    REQUIRE(back);
    CHECK(back->id == 77);
    CHECK(back->what == e.what);
    CHECK(back->product_key == e.product_key);
    CHECK(back->topic == e.topic);
    CHECK(back->body == e.body);
    CHECK(back->generate_ms == e.generate_ms);
    CHECK(back->qos == 1);
    // The body is what is left: every cut inside the header is refused.
    const auto header = stored.size() - e.body.size();
    for (std::size_t n = 0; n < header; ++n) CHECK_FALSE(uplink::decode(77, stored.substr(0, n)));
    auto bad = stored;
    bad[0] = 2;  // another version
    CHECK_FALSE(uplink::decode(77, bad));
    bad = stored;
    bad[1] = 9;  // no such kind
    CHECK_FALSE(uplink::decode(77, bad));
}

TEST_CASE("uplink topics: forwarding, reply and status topics as the platform names them") {
    const catalog::device_key d{"a1PK", "dev1"};
    CHECK(uplink::forwarding_topic("/sys/a1PK/dev1/thing/event/property/post") ==
          "/a1PK/dev1/thing/event/property/post");
    CHECK(uplink::forwarding_topic("/a1PK/dev1/user/update") == "/a1PK/dev1/user/update");
    CHECK(uplink::reply_topic(d) == "/a1PK/dev1/thing/downlink/reply/message");
    CHECK(uplink::status_topic(d) == "/as/mqtt/status/a1PK/dev1");
    CHECK(uplink::kind_of("status") == uplink::kind::status);
    CHECK_FALSE(uplink::kind_of("lifecycle"));
}

TEST_CASE("uplink bodies: a property post as the data formats page shows it") {
    const catalog::device_key d{"al12345", "deviceName1234"};
    const auto params =
        boost::json::parse(
            R"({"Power":"on","Position":{"value":{"latitude":39.9,"longitude":116.38},"time":1510292697470},"attribute_8":715665571})")
            .as_object();
    const auto body = boost::json::parse(uplink::property_body(
        d, "iot1", 1510799670074, params,
        {{"attribute_8", 6304, "tsl parse: params not exist -> attribute_8"}}));
    const auto expected = boost::json::parse(R"({
        "iotId":"iot1","productKey":"al12345","deviceName":"deviceName1234","gmtCreate":1510799670074,
        "items":{"Power":{"value":"on","time":1510799670074},
                 "Position":{"value":{"latitude":39.9,"longitude":116.38},"time":1510292697470}},
        "checkFailedData":{"attribute_8":{"value":715665571,"time":1510799670074,"code":6304,
                           "message":"tsl parse: params not exist -> attribute_8"}}})");
    CHECK(body == expected);
    // Nothing failed: no checkFailedData at all.
    const auto clean = boost::json::parse(uplink::property_body(d, "iot1", 5, params, {}));
    CHECK_FALSE(clean.as_object().contains("checkFailedData"));
    CHECK(clean.at("items").as_object().size() == 3);
}

TEST_CASE("uplink bodies: an event post, and one the thing model refused") {
    const catalog::device_key d{"a1PK", "dev1"};
    const auto params =
        boost::json::parse(R"({"value":{"ErrorCode":3},"time":1510799670000})").as_object();
    const auto body =
        boost::json::parse(uplink::event_body(d, "iot1", "Alarm", 1510799670074, params, {}));
    CHECK(body == boost::json::parse(R"({"identifier":"Alarm","iotId":"iot1","productKey":"a1PK",
        "deviceName":"dev1","gmtCreate":1510799670074,"value":{"ErrorCode":3},"time":1510799670000})"));
    const auto refused = boost::json::parse(uplink::event_body(
        d, "iot1", "Nope", 7, boost::json::object{}, {{"Nope", 6300, "no such event"}}));
    CHECK(refused.at("checkFailedData") ==
          boost::json::parse(R"({"code":6300,"message":"no such event"})"));
    CHECK(refused.at("time") == 7);
    CHECK(refused.at("value") == boost::json::object{});
}

TEST_CASE("uplink bodies: status online and offline, times as the platform writes them") {
    const catalog::device_key d{"al12345", "deviceName1234"};
    // 2018-08-31T07:32:28.205Z, the documented example (time in UTC+8).
    const auto online = boost::json::parse(uplink::status_body(
        d, "iot1", true, 1535700748205, 1535700748195, "192.0.2.1", std::nullopt));
    CHECK(online == boost::json::parse(R"({"status":"online","iotId":"iot1",
        "productKey":"al12345","deviceName":"deviceName1234","time":"2018-08-31 15:32:28.205",
        "utcTime":"2018-08-31T07:32:28.205Z","lastTime":"2018-08-31 15:32:28.195",
        "utcLastTime":"2018-08-31T07:32:28.195Z","clientIp":"192.0.2.1"})"));
    const auto offline =
        boost::json::parse(uplink::status_body(d, "iot1", false, 1535700748205, 1535700748195,
                                               "192.0.2.1", uplink::offline_reason::takeover));
    CHECK(offline.at("status") == "offline");
    CHECK(offline.at("offlineReasonCode") == 427);
}

TEST_CASE("group queue: one consumer per message, accepted once, the rest to the next") {
    group_queue q{{}};
    REQUIRE(q.push(message(1), 0));
    REQUIRE(q.push(message(2), 0));
    const auto a = q.take(10, 0);
    const auto b = q.take(20, 0);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->id == 1);
    CHECK(b->id == 2);
    CHECK_FALSE(q.take(10, 0));  // nothing else waits
    CHECK(q.settle(10, 1, group_queue::outcome::accepted));
    CHECK(q.size() == 1);
    CHECK_FALSE(q.settle(10, 1, group_queue::outcome::accepted));  // gone already
    // A repeated id (a restore after a crash) is taken as queued, not twice.
    CHECK(q.push(message(2), 0));
    CHECK(q.size() == 1);
}

TEST_CASE("group queue: released, and a consumer that leaves: sent again, same id, first") {
    group_queue q{{}};
    for (std::uint64_t id = 1; id <= 3; ++id) REQUIRE(q.push(message(id), 0));
    REQUIRE(q.take(10, 0)->id == 1);
    REQUIRE(q.take(10, 0)->id == 2);
    CHECK_FALSE(q.settle(10, 2, group_queue::outcome::released));
    CHECK(q.take(20, 0)->id == 2);  // released: at the front, to whoever takes next
    CHECK(q.leave(10) == 1);        // held 1
    CHECK(q.take(20, 0)->id == 1);
    CHECK(q.take(20, 0)->id == 3);
    CHECK(q.stats().redelivered == 2);
    // A release from a consumer the message is no longer with changes nothing.
    CHECK_FALSE(q.settle(10, 1, group_queue::outcome::released));
    CHECK_FALSE(q.take(30, 0));
    // Rejected: gone for good (counted).
    CHECK(q.settle(20, 3, group_queue::outcome::rejected));
    CHECK(q.stats().rejected == 1);
}

TEST_CASE("group queue: bounded in bytes (refused, counted) and in age (expired)") {
    group_queue q{{.max_bytes = 1000, .max_age = std::chrono::milliseconds{100}}};
    REQUIRE(q.push(message(1, 500), 0));
    CHECK_FALSE(q.push(message(2, 500), 0));  // 2 × (500 + topic + 64) > 1000
    CHECK(q.stats().refused == 1);
    REQUIRE(q.push(message(3, 10), 50));
    CHECK(q.expire(99).empty());
    CHECK(q.expire(100) == std::vector<std::uint64_t>{1});
    CHECK(q.stats().expired == 1);
    CHECK(q.size() == 1);
    CHECK(q.take(10, 120)->id == 3);  // the expired one is never sent
    // Its bytes are free again.
    CHECK(q.push(message(4, 500), 120));
}

TEST_CASE("group queue: not settled within the ACK time-out: to another consumer") {
    group_queue q{{.ack_timeout = std::chrono::milliseconds{30}}};
    REQUIRE(q.push(message(1), 0));
    REQUIRE(q.take(10, 0));
    CHECK(q.expire(29).empty());
    CHECK_FALSE(q.take(20, 29));
    q.expire(30);
    const auto again = q.take(20, 30);
    REQUIRE(again);
    CHECK(again->id == 1);
    // The first consumer's late accept still ends it (at least once, not twice kept).
    CHECK(q.settle(10, 1, group_queue::outcome::accepted));
    CHECK(q.size() == 0);
}

TEST_CASE("uplink event as one JSON document (a webhook's POST): body parsed, bytes always") {
    const uplink::event json_body{.id = 9,
                                  .what = uplink::kind::status,
                                  .product_key = "a1PK",
                                  .topic = "/as/mqtt/status/a1PK/dev1",
                                  .body = R"({"status":"online"})",
                                  .generate_ms = 5,
                                  .qos = 0};
    const auto doc = boost::json::parse(uplink::event_json(json_body));
    CHECK(doc.at("kind") == "status");
    CHECK(doc.at("messageId") == "9");
    CHECK(doc.at("body").at("status") == "online");
    CHECK(doc.at("payloadBase64") == "eyJzdGF0dXMiOiJvbmxpbmUifQ==");
    auto bytes = json_body;
    bytes.what = uplink::kind::custom;
    bytes.body = std::string{"\x00\xff", 2};
    const auto raw = boost::json::parse(uplink::event_json(bytes));
    CHECK_FALSE(raw.as_object().contains("body"));
    CHECK(raw.at("payloadBase64") == "AP8=");
}

TEST_CASE("reply stream filter: kinds and products from the query, the async answers by default") {
    const auto none = uplink::stream_filter_of("/v1/replies/stream");
    REQUIRE(none.has_value());
    CHECK(none->kinds == std::vector<std::string>{"reply"});
    CHECK(none->products.empty());
    const auto some =
        uplink::stream_filter_of("/v1/replies/stream?kinds=property,status&products=a1PK,a1Two");
    REQUIRE(some.has_value());
    CHECK(some->kinds == std::vector<std::string>{"property", "status"});
    CHECK(some->products == std::vector<std::string>{"a1PK", "a1Two"});
    const auto encoded = uplink::stream_filter_of("/v1/replies/stream?kinds=reply%2Ccustom");
    REQUIRE(encoded.has_value());
    CHECK(encoded->kinds == std::vector<std::string>{"reply", "custom"});
    const auto bad = uplink::stream_filter_of("/v1/replies/stream?kinds=lifecycle");
    REQUIRE_FALSE(bad.has_value());
    CHECK_THAT(bad.error(), Catch::Contains("\"lifecycle\" is not one of"));
    CHECK_FALSE(uplink::stream_filter_of("not a target").has_value());
}
