#include "rrpc/async_calls.hpp"

#include "rrpc/outbox.hpp"

#include <spdlog/sinks/null_sink.h>
#include "http/render.hpp"

#include <boost/asio/system_executor.hpp>
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
    bool ext_rrpc(const device_key&) const override { return false; }
    bool publish(const device_key&, std::string_view topic, std::string_view,
                 std::chrono::milliseconds, std::uint64_t) override {
        topics.emplace_back(topic);
        return online;
    }
    void withdraw(const device_key&, std::uint64_t) override {}
    bool publish_reliably(const device_key&, std::uint64_t id, std::string topic, std::string,
                          bool) override {
        if (queue_full) return false;
        reliable.push_back(id);
        topics.push_back(std::move(topic));
        return true;
    }
    bool queue_full = false;
};

struct fixture {
    gateway_stub gateway;
    call_log log{60s, {100, 1 << 20, 100, 1 << 20}};
    reply_hub hub;
    device_directory devices;
    async_calls calls{
        gateway, log, hub, devices,
        std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_st>())};
    const device_key dev{"a1PK", "dev1"};
    std::vector<json::object> events;

    fixture() {
        devices.add({dev, "s", {}});
        hub.subscribe(boost::asio::system_executor{}, [this](const async_reply& r) {
            events.push_back(json::parse(rrpcd::http::forwarding_json(r)).as_object());
        });
    }
};

}  // namespace

TEST_CASE("an async thing service is answered by its Alink id on the _reply topic", "[rrpc]") {
    fixture f;
    const auto topic = "/sys/a1PK/dev1/thing/service/SetWeight";
    CHECK(async_calls::sent::ok == f.calls.send(7, {call_kind::thing_async, f.dev, topic,
                                                    R"({"id":"7"})", "SetWeight", "7", false}));
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
    const auto r = f.log.find(7);
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
        async_calls::sent::ok ==
        f.calls.send(1, {call_kind::async_rrpc, f.dev, "/a1PK/dev1/user/get", "a", {}, {}, true}));
    CHECK(
        async_calls::sent::ok ==
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
    CHECK(f.calls.send(3, {call_kind::thing_async, f.dev, "/sys/a1PK/dev1/thing/service/X", "{}",
                           "X", "3", false}) == async_calls::sent::offline);
    CHECK(f.log.find(3)->state == call_state::offline);
}

TEST_CASE("a reliable request to a full queue is refused and leaves no call behind", "[rrpc]") {
    fixture f;
    f.gateway.queue_full = true;
    CHECK(
        f.calls.send(4, {call_kind::async_rrpc, f.dev, "/a1PK/dev1/user/get", "a", {}, {}, true}) ==
        async_calls::sent::queue_full);
    CHECK_FALSE(f.log.find(4));
    CHECK(f.calls.waiting() == 0);
    CHECK_FALSE(f.calls.on_upstream(f.dev, "/a1PK/dev1/user/get_reply", "an answer to nothing"));
}

TEST_CASE("the call log keeps ended calls as a cache bounded in count and bytes", "[rrpc]") {
    call_log log{60s, {2, 20, 10, 100}};
    for (std::uint64_t id = 1; id <= 2; ++id) {
        log.add({id, call_kind::rrpc, {"p", "d"}, "t", "12345"});
        REQUIRE(log.finish(id, call_state::replied, "r", "y"));
    }
    CHECK(log.size() == 2);
    log.add({3, call_kind::rrpc, {"p", "d"}, "t", "x"});
    CHECK(log.size() == 3);  // a call waiting is not part of the cache
    REQUIRE(log.finish(3, call_state::replied, "r", "y"));
    CHECK_FALSE(log.find(1));  // past the count: the oldest ended goes
    CHECK(log.find(3));
    CHECK(log.bytes() <= 20);
    CHECK_FALSE(log.finish(3, call_state::timeout));  // an outcome is final
    // One ended call larger than the byte bound still stays, alone (the newest always does).
    log.add({4, call_kind::rrpc, {"p", "d"}, "t", std::string(50, 'b')});
    REQUIRE(log.finish(4, call_state::replied, "r", "y"));
    CHECK(log.find(4));
    CHECK_FALSE(log.find(3));
    call_log short_lived{0s, {10, 100, 10, 100}};
    short_lived.add({1, call_kind::rrpc, {"p", "d"}, "t", ""});
    short_lived.add({2, call_kind::rrpc, {"p", "d"}, "t", ""});
    CHECK_FALSE(short_lived.find(1));  // expired
}

TEST_CASE("async calls waiting for an answer are bounded per key, an answered one no longer counts",
          "[rrpc]") {
    call_log log{60s, {2, 1000, 3, 1000}};
    const auto async = [](std::uint64_t id, std::string owner) {
        call_record r{id, call_kind::async_rrpc, {"p", "d"}, "t", "a"};
        r.owner = std::move(owner);
        return r;
    };
    for (std::uint64_t id = 1; id <= 3; ++id) REQUIRE(log.add(async(id, "key-a")));
    // Many sync calls, far over the cache: no waiting async call goes.
    for (std::uint64_t id = 100; id < 1100; ++id) {
        log.add({id, call_kind::rrpc, {"p", "d"}, "t", std::string(200, 's')});
        log.finish(id, call_state::timeout);
    }
    for (std::uint64_t id = 1; id <= 3; ++id) CHECK(log.find(id));
    CHECK(log.async_waiting() == 3);
    // A fourth of the same key is refused, not made room for; another key is not held back.
    CHECK(log.async_full("key-a", 1));
    CHECK_FALSE(log.add(async(4, "key-a")));
    CHECK_FALSE(log.find(4));
    CHECK(log.add(async(5, "key-b")));
    // Answered, a call leaves its key's budget: the next one is taken.
    REQUIRE(log.finish(1, call_state::replied, "t_reply", std::string(500, 'r')));
    CHECK(log.async_waiting() == 3);
    CHECK(log.add(async(6, "key-a")));
    // Bytes count too: a request larger than what is left of the key's bytes is refused.
    CHECK(log.async_full("key-c", 1001));
    // What the store kept waiting is restored whatever the budget.
    log.restore(async(7, "key-a"));
    CHECK(log.find(7));
}

TEST_CASE("the outbox keeps QoS 1 messages in order until acknowledged, a full one refuses",
          "[rrpc]") {
    outbox box{2};
    const device_key d{"p", "d"};
    CHECK(box.push(d, {1, "t", "a"}));
    CHECK(box.push(d, {2, "t", "b"}));
    CHECK(box.full(d));
    CHECK_FALSE(box.push(d, {3, "t", "c"}));  // refused: nothing accepted is pushed out
    CHECK(box.size(d) == 2);
    CHECK(box.queue(d).front().message_id == 1);
    box.queue(d).front().sent = true;
    box.session_ended(d);
    CHECK_FALSE(box.queue(d).front().sent);  // sent again next session
    CHECK(box.acknowledge(d, 1));
    CHECK_FALSE(box.acknowledge(d, 1));
    CHECK(box.size(d) == 1);
    // What the store kept is restored whatever the cap (it was accepted before).
    box.restore(d, {4, "t", "d"});
    box.restore(d, {5, "t", "e"});
    CHECK(box.size(d) == 3);
}

TEST_CASE("an AsyncRRpc answer naming its request's Alink id is matched by it, not by order",
          "[rrpc]") {
    fixture f;
    const std::string topic = "/a1PK/dev1/user/get";
    // A (sent first, say redelivered after a reconnect) and B, both Alink requests.
    CHECK(async_calls::sent::ok ==
          f.calls.send(
              1, {call_kind::async_rrpc, f.dev, topic, R"({"id":"A","params":{}})", {}, {}, true}));
    CHECK(async_calls::sent::ok ==
          f.calls.send(
              2, {call_kind::async_rrpc, f.dev, topic, R"({"id":"B","params":{}})", {}, {}, true}));
    // The device answers B first, then A.
    CHECK(f.calls.on_upstream(f.dev, topic + "_reply", R"({"id":"B","code":200})"));
    CHECK(f.log.find(2)->state == call_state::replied);
    CHECK(f.log.find(1)->state == call_state::pending);
    CHECK(f.calls.on_upstream(f.dev, topic + "_reply", R"({"id":"A","code":200})"));
    CHECK(f.log.find(1)->reply == R"({"id":"A","code":200})");
    CHECK(f.log.find(2)->reply == R"({"id":"B","code":200})");
    // A numeric id works the same; a non-Alink answer falls back to order.
    CHECK(async_calls::sent::ok ==
          f.calls.send(3, {call_kind::async_rrpc, f.dev, topic, R"({"id":7})", {}, {}, true}));
    CHECK(async_calls::sent::ok ==
          f.calls.send(4, {call_kind::async_rrpc, f.dev, topic, "raw", {}, {}, true}));
    CHECK(f.calls.on_upstream(f.dev, topic + "_reply", R"({"id":7})"));
    CHECK(f.log.find(3)->state == call_state::replied);
    CHECK(f.calls.on_upstream(f.dev, topic + "_reply", "raw answer"));
    CHECK(f.log.find(4)->reply == "raw answer");
}

TEST_CASE("answered async calls are read back in the order they were answered, after a given one",
          "[rrpc]") {
    call_log log{60s, {10, 10'000, 10, 10'000}};
    for (std::uint64_t id = 1; id <= 4; ++id)
        REQUIRE(log.add({id, call_kind::async_rrpc, {"p", "d"}, "t", "a"}));
    log.add({9, call_kind::rrpc, {"p", "d"}, "t", "sync"});
    REQUIRE(log.finish(9, call_state::replied, "r", "y"));  // sync: never replayed
    // Answered 3, then 1, then 4; 2 never.
    for (const std::uint64_t id : {3, 1, 4}) {
        REQUIRE(log.finish(id, call_state::replied, "t_reply", std::string(100, 'r')));
        auto answered = log.find(id).value();  // kept again with the time it says it ended
        answered.finished = call_record::clock::time_point{} + std::chrono::seconds{id == 3   ? 1
                                                                                    : id == 1 ? 2
                                                                                              : 3};
        log.restore(std::move(answered));
    }
    const auto ids = [](const std::vector<call_record>& v) {
        std::vector<std::uint64_t> out;
        for (const auto& r : v) out.push_back(r.message_id);
        return out;
    };
    const auto end = cursor_of(*log.find(4));
    const auto after3 = log.answered_at(3).value();
    CHECK(ids(log.answered(after3, end, 10)) == std::vector<std::uint64_t>{1, 4});
    CHECK(ids(log.answered(after3, end, 1)) == std::vector<std::uint64_t>{1});
    CHECK(ids(log.answered(log.answered_at(4).value(), end, 10)).empty());
    CHECK_FALSE(log.answered_at(2));                                               // not answered
    CHECK_FALSE(log.answered_at(9));                                               // sync
    CHECK(ids(log.answered({}, end, 10)) == std::vector<std::uint64_t>{3, 1, 4});  // all
    // The newest that fit: two of 100 + overhead bytes each leave the oldest out.
    const auto two = 2 * (100 + call_archive::event_overhead);
    const auto fit = log.newest_fitting({}, end, 10, two);
    CHECK(fit.left_out == 1);
    CHECK(ids(log.answered(fit.start, end, 10)) == std::vector<std::uint64_t>{1, 4});
    CHECK(log.newest_fitting({}, end, 1, 1 << 20).left_out == 2);  // by count
    CHECK(log.newest_fitting({}, end, 10, 1 << 20).left_out == 0);
    CHECK(log.ended()[static_cast<std::size_t>(call_kind::async_rrpc)]
                     [static_cast<std::size_t>(call_state::replied)] == 3);
    CHECK(log.started()[static_cast<std::size_t>(call_kind::async_rrpc)] == 4);
    // Past the cache, a lookup asks the archive (the store).
    struct archive_stub final : call_archive {
        std::optional<call_record> load(std::uint64_t id) override {
            return call_record{id, call_kind::async_rrpc, {"p", "d"}, "from the store"};
        }
        std::optional<answer_cursor> answered_at(std::uint64_t) override { return {}; }
        std::vector<call_record> answered(answer_cursor, answer_cursor, std::size_t) override {
            return {};
        }
        fitting newest_fitting(answer_cursor, answer_cursor, std::size_t, std::size_t) override {
            return {};
        }
    } store;
    CHECK_FALSE(log.lookup(777));
    log.archive = &store;
    CHECK(log.lookup(777)->topic == "from the store");
    CHECK(log.lookup(3)->topic == "t");  // memory first
}

TEST_CASE("the change feed says which calls started or ended since a point, newest first",
          "[rrpc]") {
    call_log log{60s, {10, 10'000, 10, 10'000}};
    const auto start = log.change_seq();
    log.add({1, call_kind::rrpc, {"p", "d"}, "t", "a"});
    log.add({2, call_kind::rrpc, {"p", "d"}, "t", "a"});
    log.finish(1, call_state::timeout);
    auto c = log.changed_since(start, 10);
    CHECK(c.ids == std::vector<std::uint64_t>{1, 2});  // 1 changed last; each once
    CHECK_FALSE(c.truncated);
    CHECK(log.changed_since(c.seq, 10).ids.empty());
    c = log.changed_since(start, 1);
    CHECK(c.ids == std::vector<std::uint64_t>{1});
    CHECK(c.truncated);
}

TEST_CASE("a steady stream of answered AsyncRRpc keeps a bounded number of entries to match",
          "[rrpc]") {
    // Answered in order through the session's writes: each id was also remembered per topic,
    // which a 30-minute soak at 1,000 calls/s showed growing by 8 bytes a call until swept.
    fixture f;
    std::size_t most = 0;
    for (std::uint64_t id = 1; id <= 20'000; ++id) {
        REQUIRE(f.calls.send(
                    id, {call_kind::async_rrpc, f.dev, "/a1PK/dev1/user/get", "q", {}, {}, true}) ==
                async_calls::sent::ok);
        f.calls.delivered(f.dev, id, "/a1PK/dev1/user/get");
        REQUIRE(f.calls.on_upstream(f.dev, "/a1PK/dev1/user/get_reply", "a"));
        most = std::max(most, f.calls.counted());
        REQUIRE(f.calls.counted() == f.calls.waiting());
    }
    CHECK(most <= 2048);
    CHECK(f.log.find(20'000)->reply == "a");
}
