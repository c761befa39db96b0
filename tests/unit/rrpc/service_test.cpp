#include "rrpc/service.hpp"

#include "rrpc/topics.hpp"

#include <spdlog/sinks/null_sink.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <optional>
#include <unordered_map>

using namespace rrpcd::rrpc;
using namespace rrpcd::catalog;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

/// The MQTT side as the RRPC core sees it, scripted by the test.
struct fake_gateway final : device_gateway {
    std::unordered_map<device_key, presence, device_key_hash> links;
    struct sent_message {
        device_key device;
        std::string topic;
        std::string payload;
    };
    std::vector<sent_message> sent;

    presence presence_of(const device_key& d) const override {
        const auto it = links.find(d);
        return it == links.end() ? presence{} : it->second;
    }
    bool ext_rrpc(const device_key&) const override { return false; }
    bool publish(const device_key& d, std::string_view topic, std::string_view payload,
                 std::chrono::milliseconds, std::uint64_t) override {
        sent.push_back({d, std::string{topic}, std::string{payload}});
        return presence_of(d).link == presence::state::connected;
    }
    std::vector<std::uint64_t> reliable;  ///< MessageIds queued at QoS 1
    std::vector<std::uint64_t> dropped;   ///< MessageIds whose held request was taken back
    void drop_held(const device_key&, std::uint64_t id) override { dropped.push_back(id); }
    void withdraw(const device_key&, std::uint64_t) override {}
    bool publish_reliably(const device_key& d, std::uint64_t id, std::string topic,
                          std::string payload, bool) override {
        reliable.push_back(id);
        sent.push_back({d, std::move(topic), std::move(payload)});
        return true;
    }
};

struct fixture {
    asio::io_context io;
    fake_gateway gateway;
    message_id_generator ids{0};
    call_log calls{std::chrono::seconds{60}, {1000, 1 << 20, 1000, 1 << 20}};
    service svc{
        gateway, ids, calls,
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_st>())};
    const device_key dev{"a1PK", "dev1"};
    const device_key other{"a1PK", "dev2"};

    fixture() {
        gateway.links[dev] = presence{presence::state::connected, presence::clock::now(), 60s};
        gateway.links[other] = presence{presence::state::connected, presence::clock::now(), 60s};
    }

    /// Starts a call; the result appears in the returned optional once the io_context ran it.
    std::shared_ptr<std::optional<call_result>> start(call_request r) {
        auto out = std::make_shared<std::optional<call_result>>();
        asio::co_spawn(io, svc.call(std::move(r)),
                       [out](const std::exception_ptr& e, call_result result) {
                           REQUIRE_FALSE(e);
                           *out = std::move(result);
                       });
        io.restart();  // an io_context that ran out of work stays stopped until restarted
        io.poll();     // runs the call up to its wait: the request is published by now
        return out;
    }

    /// Runs every started call to its end.
    void run() {
        io.restart();
        io.run();
    }
};

}  // namespace

TEST_CASE("a reply resolves the call with the device's bytes", "[rrpc]") {
    fixture f;
    auto result = f.start({f.dev, std::string("\x00\xFF", 2), "", 5000ms});
    REQUIRE(f.gateway.sent.size() == 1);
    const auto& req = f.gateway.sent[0];
    CHECK(req.payload == std::string("\x00\xFF", 2));
    // The request topic carries the MessageId; the device answers on the response topic.
    const auto message_id = std::stoull(req.topic.substr(req.topic.rfind('/') + 1));
    CHECK(req.topic == request_topic(f.dev, message_id));
    f.svc.on_reply(f.dev, response_topic(f.dev, message_id), message_id, "pong");
    f.run();
    REQUIRE(*result);
    CHECK((*result)->code == rrpc_code::success);
    CHECK((*result)->payload == "pong");
    CHECK((*result)->message_id == message_id);
    CHECK(f.svc.pending() == 0);
    CHECK(f.svc.stats().success == 1);
    // The outcome is kept for lookup.
    const auto record = f.calls.find(message_id);
    REQUIRE(record);
    CHECK(record->state == call_state::replied);
    CHECK(record->reply == "pong");
    CHECK(record->request == std::string("\x00\xFF", 2));
    CHECK(record->kind == call_kind::rrpc);
}

TEST_CASE("no reply within Timeout is TIMEOUT", "[rrpc]") {
    fixture f;
    const auto t0 = std::chrono::steady_clock::now();
    auto result = f.start({f.dev, "x", "", 50ms});
    f.run();
    REQUIRE(*result);
    CHECK((*result)->code == rrpc_code::timeout);
    CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
    CHECK(f.calls.find((*result)->message_id)->state == call_state::timeout);
    CHECK(f.svc.pending() == 0);
    // A reply after the timeout is late: dropped and counted.
    const auto& topic = f.gateway.sent[0].topic;
    const auto id = std::stoull(topic.substr(topic.rfind('/') + 1));
    f.svc.on_reply(f.dev, response_topic(f.dev, id), id, "late");
    CHECK(f.svc.stats().dropped_replies == 1);
    // Its request, had it been held for a subscription, was taken back when the call ended.
    CHECK(f.gateway.dropped == std::vector<std::uint64_t>{id});
}

TEST_CASE("a device without a session is OFFLINE, a silent one HALFCONN, without publishing",
          "[rrpc]") {
    fixture f;
    f.gateway.links.erase(f.dev);
    auto r1 = f.start({f.dev, "x", "", 5000ms});
    f.gateway.links[f.dev] = presence{presence::state::left_cleanly, presence::clock::now(), 60s};
    auto r2 = f.start({f.dev, "x", "", 5000ms});
    f.gateway.links[f.dev] =
        presence{presence::state::connected, presence::clock::now() - 61s, 60s};
    auto r3 = f.start({f.dev, "x", "", 5000ms});
    f.gateway.links[f.dev] = presence{presence::state::lost, presence::clock::now(), 60s};
    auto r4 = f.start({f.dev, "x", "", 5000ms});
    f.run();
    CHECK((*r1)->code == rrpc_code::offline);
    CHECK((*r2)->code == rrpc_code::offline);
    CHECK((*r3)->code == rrpc_code::halfconn);
    CHECK((*r4)->code == rrpc_code::halfconn);
    CHECK(f.gateway.sent.empty());
    CHECK((*r1)->message_id != (*r2)->message_id);
    CHECK(f.calls.find((*r1)->message_id)->state == call_state::offline);
    CHECK(f.calls.find((*r3)->message_id)->state == call_state::halfconn);
}

TEST_CASE("a session ending mid-call resolves the device's calls at once", "[rrpc]") {
    fixture f;
    auto a = f.start({f.dev, "1", "", 8000ms});
    auto b = f.start({f.dev, "2", "", 8000ms});
    auto c = f.start({f.other, "3", "", 50ms});
    const auto t0 = std::chrono::steady_clock::now();
    f.svc.on_session_end(f.dev, presence{presence::state::lost, presence::clock::now(), 60s});
    f.run();
    CHECK((*a)->code == rrpc_code::halfconn);
    CHECK((*b)->code == rrpc_code::halfconn);
    CHECK((*c)->code == rrpc_code::timeout);  // the other device's call is untouched
    CHECK(std::chrono::steady_clock::now() - t0 < 1000ms);

    auto d = f.start({f.dev, "4", "", 8000ms});
    f.svc.on_session_end(f.dev,
                         presence{presence::state::left_cleanly, presence::clock::now(), 60s});
    f.run();
    CHECK((*d)->code == rrpc_code::offline);
}

TEST_CASE("another device's answer is foreign: dropped, and the call still waits", "[rrpc]") {
    fixture f;
    auto result = f.start({f.dev, "x", "", 50ms});
    const auto& topic = f.gateway.sent[0].topic;
    const auto id = std::stoull(topic.substr(topic.rfind('/') + 1));
    f.svc.on_reply(f.other, response_topic(f.other, id), id, "forged");
    f.svc.on_reply(f.other, "/ext/rrpc/" + std::to_string(id) + "/a1PK/dev2/user/get", id,
                   "forged");
    f.run();
    CHECK((*result)->code == rrpc_code::timeout);
    CHECK(f.svc.stats().dropped_replies == 2);
}

TEST_CASE("a duplicate reply is dropped and counted", "[rrpc]") {
    fixture f;
    auto result = f.start({f.dev, "x", "", 5000ms});
    const auto& topic = f.gateway.sent[0].topic;
    const auto id = std::stoull(topic.substr(topic.rfind('/') + 1));
    f.svc.on_reply(f.dev, response_topic(f.dev, id), id, "first");
    f.svc.on_reply(f.dev, response_topic(f.dev, id), id, "second");
    f.run();
    CHECK((*result)->payload == "first");
    CHECK(f.svc.stats().dropped_replies == 1);
}

TEST_CASE("custom-topic RRPC uses /ext/rrpc/{id}{topic} both ways", "[rrpc]") {
    fixture f;
    auto result = f.start({f.dev, "x", "/a1PK/dev1/user/get", 5000ms});
    const auto& topic = f.gateway.sent[0].topic;
    REQUIRE(topic.starts_with("/ext/rrpc/"));
    CHECK(topic.ends_with("/a1PK/dev1/user/get"));
    const auto id = std::stoull(topic.substr(10, topic.find('/', 10) - 10));
    // The system response topic is not where this call's answer comes.
    f.svc.on_reply(f.dev, response_topic(f.dev, id), id, "wrong topic");
    f.svc.on_reply(f.dev, topic, id, "right");
    f.run();
    CHECK((*result)->code == rrpc_code::success);
    CHECK((*result)->payload == "right");
    CHECK(f.svc.stats().dropped_replies == 1);
}
