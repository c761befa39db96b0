// The shared store's records as kept in Redis: round trips, and what is not a record rrpcd wrote.
#include "cluster/records.hpp"

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

using namespace rrpcd;
using namespace rrpcd::cluster;

TEST_CASE("records: a device's field is pk/dn and back, a field without both is none") {
    const catalog::device_key key{"a1PK", "dev/with/slashes"};
    CHECK(device_field(key) == "a1PK/dev/with/slashes");
    CHECK(device_of_field("a1PK/dev/with/slashes") == key);
    CHECK_FALSE(device_of_field("nodevice"));
    CHECK_FALSE(device_of_field("/dev"));
    CHECK_FALSE(device_of_field("pk/"));
}

TEST_CASE("records: a device, a product and a call round-trip") {
    const catalog::device_record d{.key = {"pk", "dn"},
                                   .secret = "s3cr3t",
                                   .iot_id = "abc",
                                   .nickname = "n",
                                   .disabled = true,
                                   .created_ms = 1700000000001,
                                   .active_ms = 1700000000002,
                                   .from_config = true};
    const auto back = decode_device(d.key, encode(d));
    REQUIRE(back);
    CHECK(back->secret == d.secret);
    CHECK(back->iot_id == d.iot_id);
    CHECK(back->nickname == d.nickname);
    CHECK(back->disabled);
    CHECK(back->created_ms == d.created_ms);
    CHECK(back->active_ms == d.active_ms);
    CHECK(back->from_config);
    // The first-login merge (a Lua pattern) relies on this spelling of an unset first login.
    auto fresh = d;
    fresh.active_ms = 0;
    CHECK(encode(fresh).find("\"active_ms\":0,") != std::string::npos);

    const catalog::product_record p{.product_key = "pk",
                                    .name = "P",
                                    .node_type = 1,
                                    .data_format = 0,
                                    .description = "d",
                                    .created_ms = 5};
    const auto pb = decode_product("pk", encode(p));
    REQUIRE(pb);
    CHECK(pb->name == "P");
    CHECK(pb->node_type == 1);
    CHECK(pb->data_format == 0);
    CHECK(pb->created_ms == 5);

    rrpc::call_record c;
    c.message_id = 0xFFFF'FFFF'FFFF'FF00ULL;
    c.kind = rrpc::call_kind::thing_async;
    c.device = {"pk", "dn"};
    c.topic = "/sys/pk/dn/thing/service/S";
    c.request = std::string{"\0\1\xff", 3};
    c.identifier = "S";
    c.state = rrpc::call_state::replied;
    c.reply_topic = "/sys/pk/dn/thing/service/S_reply";
    c.reply = std::string{"\xfe\0", 2};
    c.created = rrpc::call_record::clock::time_point{std::chrono::milliseconds{1700000000000}};
    c.finished = c.created + std::chrono::milliseconds{40};
    c.owner = "LTAIkey";
    const auto cb = decode_call(encode(c));
    REQUIRE(cb);
    CHECK(cb->message_id == c.message_id);
    CHECK(cb->kind == c.kind);
    CHECK(cb->device == c.device);
    CHECK(cb->request == c.request);
    CHECK(cb->reply == c.reply);
    CHECK(cb->state == c.state);
    CHECK(cb->created == c.created);
    CHECK(cb->finished == c.finished);
    CHECK(cb->published == rrpc::call_record::clock::time_point{});
    CHECK(cb->owner == c.owner);
}

TEST_CASE("records: what is not a record rrpcd wrote is none, never a default") {
    const catalog::device_key key{"pk", "dn"};
    for (const auto* text :
         {"", "[]", "{", "null", R"({"secret":""})", R"({"secret":5})",
          R"({"secret":"s","disabled":"yes"})", R"({"secret":"s","created_ms":1.5})"})
        CHECK_FALSE(decode_device(key, text));
    CHECK_FALSE(decode_product("", R"({"name":"P"})"));
    CHECK_FALSE(decode_product("pk", R"({"name":3})"));
    for (const auto* text :
         {R"({"kind":0,"state":0,"pk":"p","dn":"d"})", R"({"id":-1,"pk":"p","dn":"d"})",
          R"({"id":1,"kind":9,"pk":"p","dn":"d"})", R"({"id":1,"state":9,"pk":"p","dn":"d"})",
          R"({"id":1,"pk":"p"})", R"({"id":1,"pk":"p","dn":"d","request":"not base64!"})"})
        CHECK_FALSE(decode_call(text));
}

TEST_CASE("records: an async answer told to every node round-trips with its origin") {
    rrpc::async_reply a;
    a.message_id = 1234567890123ULL;
    a.gmt_create_ms = 1700000000000;
    a.iot_id = "iot";
    a.device = {"pk", "dn"};
    a.request_id = "7";
    a.code = 200;
    a.message = "success";
    a.topic = "/pk/dn/user/get_reply";
    a.data = boost::json::parse(R"({"x":[1,2]})");
    a.payload = std::string{"\0re", 3};
    const auto back = decode_reply(encode(a, 9));
    REQUIRE(back);
    CHECK(back->first == 9);
    CHECK(back->second.message_id == a.message_id);
    CHECK(back->second.device == a.device);
    CHECK(back->second.data == a.data);
    CHECK(back->second.payload == a.payload);
    CHECK(back->second.topic == a.topic);
    CHECK_FALSE(back->second.elsewhere);
    CHECK_FALSE(decode_reply(R"({"origin":40,"id":1,"pk":"p","dn":"d"})"));
    CHECK_FALSE(decode_reply(R"({"origin":1,"pk":"p","dn":"d"})"));
    CHECK_FALSE(decode_reply("{"));
}

TEST_CASE("records: a parked message round-trips, and one without its id or topic is none") {
    const rrpc::queued_message m{
        .message_id = 42, .topic = "/pk/dn/user/get", .payload = std::string{"\0x", 2}};
    const auto back = decode_parked(encode(m));
    REQUIRE(back);
    CHECK(back->message_id == 42);
    CHECK(back->topic == m.topic);
    CHECK(back->payload == m.payload);
    CHECK_FALSE(back->sent);
    CHECK_FALSE(decode_parked(R"({"topic":"/t","payload":""})"));
    CHECK_FALSE(decode_parked(R"({"id":1,"payload":""})"));
    CHECK_FALSE(decode_parked(R"({"id":1,"topic":"/t","payload":"%%"})"));
}
