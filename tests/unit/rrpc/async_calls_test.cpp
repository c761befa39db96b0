#include "rrpc/async_calls.hpp"

#include "rrpc/outbox.hpp"

#include <spdlog/sinks/null_sink.h>
#include "http/render.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

using namespace rrpcd::rrpc;
using namespace rrpcd::catalog;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct gateway_stub final : device_gateway {
    bool online = true;
    std::vector<std::string> topics;
    std::vector<std::uint64_t> reliable;
    presence presence_of(const device_key&) const override {
        return online ? presence{presence::state::connected, presence::clock::now(), 60s}
                      : presence{};
    }
    bool publish(const device_key&, std::string_view topic, std::string_view) override {
        topics.emplace_back(topic);
        return online;
    }
    void publish_reliably(const device_key&, std::uint64_t id, std::string topic,
                          std::string) override {
        reliable.push_back(id);
        topics.push_back(std::move(topic));
    }
};

struct fixture {
    gateway_stub gateway;
    call_log log{60s, 100};
    reply_hub hub;
    device_directory devices;
    async_calls calls{
        gateway, log, hub, devices,
        std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_st>())};
    const device_key dev{"a1PK", "dev1"};
    std::vector<json::object> events;

    fixture() {
        devices.add({dev, "s", {}});
        hub.subscribe([this](const async_reply& r) {
            events.push_back(json::parse(rrpcd::http::forwarding_json(r)).as_object());
        });
    }
};

}  // namespace

TEST_CASE("an async thing service is answered by its Alink id on the _reply topic", "[rrpc]") {
    fixture f;
    const auto topic = "/sys/a1PK/dev1/thing/service/SetWeight";
    CHECK(f.calls.send(
        7, {call_kind::thing_async, f.dev, topic, R"({"id":"7"})", "SetWeight", "7", false}));
    CHECK(f.log.find(7)->state == call_state::pending);
    // Another id, another device, or another topic do not answer it.
    CHECK_FALSE(
        f.calls.on_upstream(f.dev, std::string{topic} + "_reply", R"({"id":"8","code":200})"));
    CHECK_FALSE(f.calls.on_upstream(
        {"a1PK", "dev2"}, "/sys/a1PK/dev2/thing/service/SetWeight_reply", R"({"id":"7"})"));
    CHECK_FALSE(
        f.calls.on_upstream(f.dev, "/sys/a1PK/dev1/thing/event/property/post", R"({"id":"7"})"));
    CHECK(f.events.empty());

    CHECK(f.calls.on_upstream(
        f.dev, std::string{topic} + "_reply",
        R"({"id":"7","code":200,"data":{"OldWeight":100.101},"message":"success"})"));
    const auto* r = f.log.find(7);
    CHECK(r->state == call_state::replied);
    REQUIRE(f.events.size() == 1);
    const auto& e = f.events[0];
    // The cloud's forwarding format, plus MessageId.
    CHECK(e.at("productKey") == "a1PK");
    CHECK(e.at("deviceName") == "dev1");
    CHECK(e.at("iotId").as_string() == device_directory::iot_id_of(f.dev));
    CHECK(e.at("requestId") == "7");
    CHECK(e.at("code") == 200);
    CHECK(e.at("message") == "success");
    CHECK(e.at("topic").as_string() == std::string{topic} + "_reply");
    CHECK(e.at("data").at("OldWeight") == 100.101);
    CHECK(e.at("MessageId") == 7);
    CHECK(e.at("gmtCreate").is_int64());
    // A second answer is not a second outcome.
    CHECK_FALSE(
        f.calls.on_upstream(f.dev, std::string{topic} + "_reply", R"({"id":"7","code":200})"));
    CHECK(f.events.size() == 1);
}

TEST_CASE("AsyncRRpc answers come in order on {TopicFullName}_reply", "[rrpc]") {
    fixture f;
    CHECK(
        f.calls.send(1, {call_kind::async_rrpc, f.dev, "/a1PK/dev1/user/get", "a", {}, {}, true}));
    CHECK(
        f.calls.send(2, {call_kind::async_rrpc, f.dev, "/a1PK/dev1/user/get", "b", {}, {}, true}));
    CHECK(f.gateway.reliable == std::vector<std::uint64_t>{1, 2});
    CHECK(f.calls.on_upstream(f.dev, "/a1PK/dev1/user/get_reply", "first"));
    CHECK(f.calls.on_upstream(f.dev, "/a1PK/dev1/user/get_reply", "second"));
    CHECK_FALSE(f.calls.on_upstream(f.dev, "/a1PK/dev1/user/get_reply", "third"));
    CHECK(f.log.find(1)->reply == "first");
    CHECK(f.log.find(2)->reply == "second");
    REQUIRE(f.events.size() == 2);
    CHECK(f.events[0].at("MessageId") == 1);
    CHECK(f.events[0].at("payloadBase64") == "Zmlyc3Q=");
}

TEST_CASE("a QoS 0 async request without a session ends OFFLINE", "[rrpc]") {
    fixture f;
    f.gateway.online = false;
    CHECK_FALSE(f.calls.send(3, {call_kind::thing_async, f.dev, "/sys/a1PK/dev1/thing/service/X",
                                 "{}", "X", "3", false}));
    CHECK(f.log.find(3)->state == call_state::offline);
}

TEST_CASE("the call log keeps outcomes within its bounds", "[rrpc]") {
    call_log log{60s, 2, 10};
    log.add({1, call_kind::rrpc, {"p", "d"}, "t", "12345"});
    log.add({2, call_kind::rrpc, {"p", "d"}, "t", "12345"});
    CHECK(log.size() == 2);
    log.add({3, call_kind::rrpc, {"p", "d"}, "t", "x"});  // over both the count and the byte budget
    CHECK_FALSE(log.find(1));
    CHECK(log.find(3));
    CHECK(log.bytes() <= 10);
    REQUIRE(log.finish(3, call_state::replied, "r", "y"));
    CHECK_FALSE(log.finish(3, call_state::timeout));  // an outcome is final
    call_log short_lived{0s, 10};
    short_lived.add({1, call_kind::rrpc, {"p", "d"}, "t", ""});
    short_lived.add({2, call_kind::rrpc, {"p", "d"}, "t", ""});
    CHECK_FALSE(short_lived.find(1));  // expired
}

TEST_CASE("the outbox keeps QoS 1 messages in order until acknowledged", "[rrpc]") {
    outbox box{2};
    const device_key d{"p", "d"};
    CHECK_FALSE(box.push(d, {1, "t", "a"}));
    CHECK_FALSE(box.push(d, {2, "t", "b"}));
    CHECK(box.push(d, {3, "t", "c"}) == 1u);  // over the bound: the oldest goes, by id
    CHECK(box.queue(d).front().message_id == 2);
    box.queue(d).front().sent = true;
    box.session_ended(d);
    CHECK_FALSE(box.queue(d).front().sent);  // sent again next session
    CHECK(box.acknowledge(d, 2));
    CHECK_FALSE(box.acknowledge(d, 2));
    CHECK(box.size(d) == 1);
}
