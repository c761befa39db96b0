// device_registry: what a live session is handed, in what order, and when (the QoS 1 window,
// QoS 0 messages held for a subscription, calls' requests on a QoS 0 subscription, the settle
// rule). Written before the registry moves to a device plane per core.
#include "server/device_registry.hpp"
#include "mqtt/topic.hpp"

#include <spdlog/sinks/null_sink.h>
#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace rrpcd;
using namespace rrpcd::server;

namespace {

/// A session that records what it is handed; its subscriptions and QoS are the test's.
struct fake_session final : live_session {
    struct written {
        std::string topic, payload;
        mqtt::qos qos;
        std::uint64_t message_id;
        bool dup;
    };
    std::vector<std::pair<std::string, mqtt::qos>> filters;
    std::vector<written> writes;
    bool settled = true;
    std::vector<close_reason> closed;

    delivery deliver(std::string_view topic, std::string_view payload, mqtt::qos qos,
                     std::uint64_t message_id, bool dup) override {
        for (const auto& [f, granted] : filters) {
            if (!mqtt::topic_matches(f, topic)) continue;
            const auto q = std::min(qos, granted);
            writes.push_back({std::string{topic}, std::string{payload}, q, message_id, dup});
            return q == mqtt::qos::at_least_once ? delivery::qos1 : delivery::qos0;
        }
        return delivery::none;
    }
    bool may_take_queued(std::string_view) const override { return settled; }
    void close(close_reason why) override { closed.push_back(why); }
    clock::time_point last_activity() const noexcept override { return clock::now(); }
    std::chrono::seconds keep_alive() const noexcept override { return std::chrono::seconds{60}; }
    bool ext_rrpc() const noexcept override { return false; }
    std::uint64_t serial() const noexcept override { return 1; }
    rrpc::session_info info(bool) const override { return {}; }
};

/// A journal that remembers which messages are still kept.
struct recording_journal final : store::memory_journal {
    std::vector<std::uint64_t> accepted, done;
    void message_accepted(const catalog::device_key&, const rrpc::queued_message& m) override {
        accepted.push_back(m.message_id);
    }
    void message_done(const catalog::device_key&, std::uint64_t id) override { done.push_back(id); }
};

struct world {
    recording_journal journal;
    config::settings_ptr settings = [] {
        auto s = std::make_shared<config::settings>();
        s->mqtt.max_inflight_messages = 2;
        s->mqtt.max_queued_messages = 10;
        return s;
    }();
    kit::limit_counters counters;
    device_registry registry{
        journal, settings, counters,
        std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_st>())};
    catalog::device_key dev{"a1pk", "d1"};
    std::string topic = "/a1pk/d1/user/get";
};

std::vector<std::uint64_t> ids_of(const std::vector<fake_session::written>& w) {
    std::vector<std::uint64_t> out;
    for (const auto& x : w) out.push_back(x.message_id);
    return out;
}

}  // namespace

TEST_CASE("registry: a QoS 1 queue goes out a window at a time, the next on each PUBACK",
          "[server][registry]") {
    world w;
    fake_session s;
    s.filters = {{w.topic, mqtt::qos::at_least_once}};
    for (std::uint64_t id = 1; id <= 4; ++id)
        REQUIRE(w.registry.publish_reliably(w.dev, id, w.topic, "m" + std::to_string(id)));
    auto a = w.registry.attach(w.dev, s);
    w.registry.flush(w.dev);
    CHECK(ids_of(s.writes) == std::vector<std::uint64_t>{1, 2});  // max_inflight_messages
    w.registry.acknowledged(w.dev, 1);
    CHECK(ids_of(s.writes) == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(w.journal.done == std::vector<std::uint64_t>{1});
    CHECK(w.registry.queued(w.dev) == 3);
    w.registry.acknowledged(w.dev, 1);  // a second PUBACK of it changes nothing
    CHECK(w.journal.done == std::vector<std::uint64_t>{1});
}

TEST_CASE("registry: what was sent and not acknowledged goes again, with DUP, to the next session",
          "[server][registry]") {
    world w;
    fake_session first;
    first.filters = {{w.topic, mqtt::qos::at_least_once}};
    REQUIRE(w.registry.publish_reliably(w.dev, 7, w.topic, "x"));
    {
        auto a = w.registry.attach(w.dev, first);
        w.registry.flush(w.dev);
        REQUIRE(first.writes.size() == 1);
        CHECK_FALSE(first.writes[0].dup);
    }  // the session ends without its PUBACK
    fake_session second;
    second.filters = first.filters;
    auto b = w.registry.attach(w.dev, second);
    w.registry.flush(w.dev);
    REQUIRE(second.writes.size() == 1);
    CHECK(second.writes[0].dup);
    CHECK(w.journal.done.empty());
}

TEST_CASE(
    "registry: on a QoS 0 subscription a call's request waits for its answer, a plain "
    "message is done when written",
    "[server][registry]") {
    world w;
    fake_session s;
    s.filters = {{w.topic, mqtt::qos::at_most_once}};
    REQUIRE(w.registry.publish_reliably(w.dev, 1, w.topic, "call", true));
    REQUIRE(w.registry.publish_reliably(w.dev, 2, w.topic, "plain"));
    std::vector<std::uint64_t> delivered;
    w.registry.on_delivered = [&](const catalog::device_key&, std::uint64_t id, std::string_view) {
        delivered.push_back(id);
    };
    auto a = w.registry.attach(w.dev, s);
    w.registry.flush(w.dev);
    CHECK(ids_of(s.writes) == std::vector<std::uint64_t>{1, 2});
    CHECK(s.writes[0].qos == mqtt::qos::at_most_once);  // never above the granted QoS
    CHECK(delivered == std::vector<std::uint64_t>{1});  // only calls' writes are matched
    CHECK(w.journal.done == std::vector<std::uint64_t>{2});
    CHECK(w.registry.queued(w.dev) == 1);
    w.registry.flush(w.dev);  // not written again in the same session
    CHECK(s.writes.size() == 2);
    w.registry.answered(w.dev, 1);
    CHECK(w.journal.done == std::vector<std::uint64_t>{2, 1});
    CHECK(w.registry.queued(w.dev) == 0);
}

TEST_CASE("registry: a session that has not settled takes no queued message",
          "[server][registry]") {
    world w;
    fake_session s;
    s.filters = {{w.topic, mqtt::qos::at_least_once}};
    s.settled = false;
    REQUIRE(w.registry.publish_reliably(w.dev, 1, w.topic, "x"));
    auto a = w.registry.attach(w.dev, s);
    w.registry.flush(w.dev);
    CHECK(s.writes.empty());
    s.settled = true;
    w.registry.flush(w.dev);
    CHECK(ids_of(s.writes) == std::vector<std::uint64_t>{1});
}

TEST_CASE("registry: a QoS 0 message waits for a subscription within its hold, and goes with it",
          "[server][registry]") {
    world w;
    fake_session s;
    auto a = w.registry.attach(w.dev, s);
    CHECK(w.registry.publish(w.dev, w.topic, "held", std::chrono::seconds{5}, 42));
    CHECK(s.writes.empty());
    CHECK(w.registry.held() == 1);
    CHECK(w.registry.held_bytes() > 0);
    s.filters = {{w.topic, mqtt::qos::at_least_once}};
    w.registry.flush(w.dev);
    REQUIRE(s.writes.size() == 1);
    CHECK(s.writes[0].qos == mqtt::qos::at_most_once);  // a QoS 0 message stays QoS 0
    CHECK(w.registry.held() == 0);
    CHECK(w.registry.held_bytes() == 0);
}

TEST_CASE("registry: a held message goes when its call ends, and none is held without a session",
          "[server][registry]") {
    world w;
    CHECK_FALSE(w.registry.publish(w.dev, w.topic, "x", std::chrono::seconds{5}, 1));  // offline
    fake_session s;
    auto a = w.registry.attach(w.dev, s);
    CHECK(w.registry.publish(w.dev, w.topic, "x", std::chrono::seconds{5}, 1));
    CHECK(w.registry.publish(w.dev, w.topic, "y", std::chrono::seconds{5}, 2));
    w.registry.drop_held(w.dev, 1);
    CHECK(w.registry.held() == 1);
    s.filters = {{w.topic, mqtt::qos::at_most_once}};
    w.registry.flush(w.dev);
    REQUIRE(s.writes.size() == 1);
    CHECK(s.writes[0].payload == "y");
}

TEST_CASE("registry: a takeover closes the old session, and the queue goes to the new one",
          "[server][registry]") {
    world w;
    fake_session old_s, new_s;
    old_s.filters = new_s.filters = {{w.topic, mqtt::qos::at_least_once}};
    std::vector<std::string> ended;
    w.registry.on_session_end = [&](const catalog::device_key& d, const rrpc::presence&) {
        ended.push_back(d.device_name);
    };
    auto a = w.registry.attach(w.dev, old_s);
    REQUIRE(w.registry.publish_reliably(w.dev, 1, w.topic, "x"));
    CHECK(old_s.writes.size() == 1);
    auto b = w.registry.attach(w.dev, new_s);
    CHECK(old_s.closed == std::vector<close_reason>{close_reason::takeover});
    w.registry.flush(w.dev);
    REQUIRE(new_s.writes.size() == 1);
    CHECK(new_s.writes[0].dup);
    CHECK(w.registry.online() == 1);
    CHECK(ended.empty());  // a takeover is not the device's session ending
}

TEST_CASE("registry: a full queue refuses, and nothing accepted is dropped", "[server][registry]") {
    world w;
    for (std::uint64_t id = 1; id <= 10; ++id)
        REQUIRE(w.registry.publish_reliably(w.dev, id, w.topic, "x"));
    CHECK_FALSE(w.registry.publish_reliably(w.dev, 11, w.topic, "x"));
    CHECK(w.registry.queued(w.dev) == 10);
    CHECK(w.journal.accepted.size() == 10);
    CHECK(w.counters.count(kit::limit::queued_messages_per_device) == 1);
}
