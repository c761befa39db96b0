// The action handlers against a router that records what it is asked and answers as told:
// what each action sends to a device's owner, and what it answers for each of the owner's
// answers (written before the handlers reach devices on other threads).
#include "http/actions.hpp"
#include "kit/base64.hpp"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace rrpcd;
using namespace rrpcd::http;
namespace asio = boost::asio;

namespace {

/// Records every message; answers with what the test set.
struct recording_router final : rrpc::router {
    std::uint64_t ids = 1000;
    rrpc::device_link answer_link{};
    rrpc::call_result answer_call{};
    std::size_t answer_waiting = 0;
    rrpc::async_calls::sent answer_send = rrpc::async_calls::sent::ok;
    bool answer_publish = true;

    std::vector<std::string> asked;  ///< one line per message
    std::vector<rrpc::call_request> calls;
    std::vector<rrpc::async_request> sent;
    std::vector<std::size_t> links_asked;  ///< sizes of links() batches

    std::uint64_t next_id(const rrpcd::catalog::device_key&) override { return ++ids; }
    asio::awaitable<rrpc::device_link> link(catalog::device_key device) override {
        asked.push_back("link " + device.device_name);
        co_return answer_link;
    }
    asio::awaitable<std::vector<rrpc::presence>> links(
        std::vector<catalog::device_key> devices) override {
        links_asked.push_back(devices.size());
        co_return std::vector<rrpc::presence>(devices.size(), answer_link.link);
    }
    asio::awaitable<call_outcome> call(rrpc::call_request request,
                                       std::size_t max_pending) override {
        asked.push_back("call " + request.device.device_name + " max " +
                        std::to_string(max_pending));
        calls.push_back(request);
        call_outcome out;
        out.waiting = answer_waiting;
        if (answer_waiting == 0) {
            out.result = answer_call;
            out.result.message_id = request.message_id != 0 ? request.message_id : ++ids;
        }
        co_return out;
    }
    asio::awaitable<rrpc::async_calls::sent> send(std::uint64_t message_id,
                                                  rrpc::async_request request) override {
        asked.push_back("send " + std::to_string(message_id) + " " + request.topic +
                        (request.reliable ? " qos1" : " qos0"));
        sent.push_back(std::move(request));
        co_return answer_send;
    }
    asio::awaitable<published> publish(catalog::device_key device, std::string topic, std::string,
                                       bool reliably, std::uint64_t message_id) override {
        asked.push_back("publish " + std::to_string(message_id) + " " + topic +
                        (reliably ? " qos1" : " qos0") + " " + device.device_name);
        co_return answer_publish ? published::taken : published::refused;
    }
    asio::awaitable<void> withdraw(catalog::device_key device, std::uint64_t message_id) override {
        asked.push_back("withdraw " + device.device_name + " " + std::to_string(message_id));
        co_return;
    }
    void close(catalog::device_key device, bool forget) override {
        asked.push_back("close " + device.device_name + (forget ? " forget" : ""));
    }
};

/// A journal whose sync() fails when told to.
struct failing_journal final : store::memory_journal {
    bool fail = false;
    asio::awaitable<boost::system::error_code> sync() override {
        co_return fail ? boost::system::error_code{EIO, boost::system::generic_category()}
                       : boost::system::error_code{};
    }
};

struct fixture {
    recording_router router;
    rrpc::call_log calls{std::chrono::seconds{3600}, {}};
    catalog::device_directory devices;
    catalog::thing_models models;
    kit::limit_counters counters;
    failing_journal journal;
    fleet::service fleet{
        devices, journal, [](const catalog::device_key&, bool) {},
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_st>())};
    catalog::property_values properties;
    api_services services{router, calls, devices, models, properties, counters, journal, fleet};
    api_limits limits{std::chrono::milliseconds{1000},
                      std::chrono::milliseconds{8000},
                      std::chrono::milliseconds{5000},
                      1024,
                      3,
                      false};
    spdlog::logger log{"test", std::make_shared<spdlog::sinks::null_sink_st>()};
    action_context ctx{services, limits, log, "LTAIkey"};

    fixture() {
        devices.add_product({"a1pk", "Product", 0, 1});
        for (const auto* name : {"dev1", "dev2", "dev3"})
            devices.add({{"a1pk", name}, "secret", {}, {}, false, 1, 1});
        service_def ping{"Ping", true, {}, {}};
        service_def later{"Later", false, {}, {}};
        models["a1pk"].services.emplace("Ping", ping);
        models["a1pk"].services.emplace("Later", later);
    }
    using service_def = catalog::service_def;

    action_result run(std::string_view action, param_list query) {
        request_params params{std::move(query), {}};
        asio::io_context io;
        auto done = asio::co_spawn(
            io,
            [&]() -> asio::awaitable<action_result> {
                co_return co_await find_action(action)->handler(ctx, params);
            },
            asio::use_future);
        io.run();
        return done.get();
    }
    void online() { router.answer_link.link.link = rrpc::presence::state::connected; }
};

std::string b64(std::string_view s) {
    return kit::base64_encode(s);
}

}  // namespace

TEST_CASE(
    "RRpc: the call goes to the device's owner with its timeout and topic, its outcome is "
    "the answer",
    "[http]") {
    fixture f;
    f.router.answer_call = {rrpc::rrpc_code::success, 0, "pong"};
    const auto r = f.run("RRpc", {{"ProductKey", "a1pk"},
                                  {"DeviceName", "dev1"},
                                  {"RequestBase64Byte", b64("ping")},
                                  {"Timeout", "3000"}});
    REQUIRE(r.has_value());
    CHECK(r->body.at("RrpcCode") == "SUCCESS");
    CHECK(r->body.at("PayloadBase64Byte").as_string() == b64("pong"));
    REQUIRE(f.router.calls.size() == 1);
    CHECK(f.router.calls[0].payload == "ping");
    CHECK(f.router.calls[0].timeout == std::chrono::milliseconds{3000});
    CHECK(f.router.calls[0].topic.empty());
    CHECK(f.router.asked == std::vector<std::string>{"call dev1 max 3"});

    f.router.answer_call = {rrpc::rrpc_code::timeout, 0, {}};
    const auto late = f.run("RRpc", {{"ProductKey", "a1pk"},
                                     {"DeviceName", "dev1"},
                                     {"RequestBase64Byte", b64("ping")},
                                     {"Timeout", "3000"}});
    REQUIRE(late.has_value());
    CHECK(late->body.at("RrpcCode") == "TIMEOUT");
    CHECK_FALSE(late->body.contains("PayloadBase64Byte"));
}

TEST_CASE(
    "RRpc: refusals are made before the router is asked, or from its count of waiting "
    "calls",
    "[http]") {
    fixture f;
    const auto unknown = f.run("RRpc", {{"ProductKey", "a1pk"},
                                        {"DeviceName", "nope"},
                                        {"RequestBase64Byte", b64("x")},
                                        {"Timeout", "3000"}});
    REQUIRE(unknown.has_error());
    CHECK(unknown.error().code == "iot.device.NotExistedDevice");
    const auto timeout = f.run("RRpc", {{"ProductKey", "a1pk"},
                                        {"DeviceName", "dev1"},
                                        {"RequestBase64Byte", b64("x")},
                                        {"Timeout", "99999"}});
    REQUIRE(timeout.has_error());
    CHECK(timeout.error().code == "iot.messagebroker.InvalidTimeoutValue");
    CHECK(f.router.asked.empty());

    f.router.answer_waiting = 3;
    const auto busy = f.run("RRpc", {{"ProductKey", "a1pk"},
                                     {"DeviceName", "dev1"},
                                     {"RequestBase64Byte", b64("x")},
                                     {"Timeout", "3000"}});
    REQUIRE(busy.has_error());
    CHECK(busy.error().code == "iot.messagebroker.RateLimit");
    CHECK(busy.error().message.find("3 calls waiting") != std::string::npos);
    CHECK(f.counters.count(kit::limit::pending_calls_per_device) == 1);
}

TEST_CASE("AsyncRRpc: sent at QoS 1 to an online device, kept on disk before its MessageId",
          "[http]") {
    fixture f;
    const param_list params{{"ProductKey", "a1pk"},
                            {"DeviceName", "dev2"},
                            {"MessageContent", b64("hello")},
                            {"TopicFullName", "/a1pk/dev2/user/get"}};
    SECTION("never connected, then offline") {
        const auto never = f.run("AsyncRRpc", params);
        REQUIRE(never.has_error());
        CHECK(never.error().code == "iot.device.InactiveDevice");
        CHECK(never.error().status == 400);
        f.router.answer_link.link.link = rrpc::presence::state::left_cleanly;
        const auto offline = f.run("AsyncRRpc", params);
        REQUIRE(offline.has_error());
        CHECK(offline.error().code == "iot.device.OfflineDevice");
        CHECK(f.router.sent.empty());
    }
    SECTION("online") {
        f.online();
        const auto r = f.run("AsyncRRpc", params);
        REQUIRE(r.has_value());
        CHECK(r->body.at("MessageId") == 1001);
        CHECK(f.router.asked ==
              std::vector<std::string>{"link dev2", "send 1001 /a1pk/dev2/user/get qos1"});
        CHECK(f.router.sent[0].owner == "LTAIkey");
    }
    SECTION("its queue full") {
        f.online();
        f.router.answer_send = rrpc::async_calls::sent::queue_full;
        const auto r = f.run("AsyncRRpc", params);
        REQUIRE(r.has_error());
        CHECK(r.error().code == "iot.messagebroker.RateLimit");
        CHECK(r.error().status == 400);
    }
    SECTION("the store fails: withdrawn, never Success") {
        f.online();
        f.journal.fail = true;
        const auto r = f.run("AsyncRRpc", params);
        REQUIRE(r.has_error());
        CHECK(r.error().status == 503);
        CHECK(f.router.asked.back() == "withdraw dev2 1001");
    }
}

TEST_CASE("Pub: QoS 1 kept through the router, QoS 0 sent at most once", "[http]") {
    fixture f;
    param_list params{{"ProductKey", "a1pk"},
                      {"TopicFullName", "/a1pk/dev3/user/get"},
                      {"MessageContent", b64("m")},
                      {"Qos", "1"}};
    const auto kept = f.run("Pub", params);
    REQUIRE(kept.has_value());
    CHECK(kept->body.at("MessageId") == "1001");
    params.back().second = "0";
    REQUIRE(f.run("Pub", params).has_value());
    CHECK(f.router.asked == std::vector<std::string>{"publish 1001 /a1pk/dev3/user/get qos1 dev3",
                                                     "publish 1002 /a1pk/dev3/user/get qos0 dev3"});
    params.back().second = "1";
    f.router.answer_publish = false;
    const auto full = f.run("Pub", params);
    REQUIRE(full.has_error());
    CHECK(full.error().code == "iot.messagebroker.RateLimit");
}

TEST_CASE(
    "InvokeThingService: a sync service on the ext=1 topic when the session said so, an "
    "async one sent",
    "[http]") {
    fixture f;
    f.online();
    f.router.answer_link.ext_rrpc = true;
    f.router.answer_call = {rrpc::rrpc_code::success, 0, R"({"code":200})"};
    const auto sync = f.run(
        "InvokeThingService",
        {{"ProductKey", "a1pk"}, {"DeviceName", "dev1"}, {"Identifier", "Ping"}, {"Args", "{}"}});
    REQUIRE(sync.has_value());
    CHECK(sync->body.at("Data").at("Result") == R"({"code":200})");
    REQUIRE(f.router.calls.size() == 1);
    // Its thing topic (the service puts it under /ext/rrpc/{id}); empty: the RRPC topic.
    CHECK(f.router.calls[0].topic == "/sys/a1pk/dev1/thing/service/Ping");
    CHECK(f.router.calls[0].message_id == 1001);

    const auto async = f.run(
        "InvokeThingService",
        {{"ProductKey", "a1pk"}, {"DeviceName", "dev1"}, {"Identifier", "Later"}, {"Args", "{}"}});
    REQUIRE(async.has_value());
    CHECK(f.router.asked.back() == "send 1002 /sys/a1pk/dev1/thing/service/Later qos0");
}

TEST_CASE(
    "InvokeThingsService at QoS 0: one links message for the batch, nothing sent when one "
    "is offline",
    "[http]") {
    fixture f;
    const param_list params{{"ProductKey", "a1pk"},
                            {"DeviceName.1", "dev1"},
                            {"DeviceName.2", "dev2"},
                            {"Identifier", "Later"},
                            {"Args", "{}"}};
    const auto offline = f.run("InvokeThingsService", params);
    REQUIRE(offline.has_error());
    CHECK(offline.error().code == "iot.messagebroker.OFFLINE");
    CHECK(f.router.links_asked == std::vector<std::size_t>{2});
    CHECK(f.router.sent.empty());
    f.online();
    REQUIRE(f.run("InvokeThingsService", params).has_value());
    CHECK(f.router.sent.size() == 2);
}

TEST_CASE(
    "QueryDeviceByStatus: online and offline ask the router once (a device inactive here may be "
    "online on another node), inactive never asks",
    "[http]") {
    fixture f;
    f.devices.add({{"a1pk", "fresh"}, "secret", {}, {}, false, 1, 0});  // never logged in
    f.online();
    const auto online = f.run("QueryDeviceByStatus", {{"Status", "1"}, {"ProductKey", "a1pk"}});
    REQUIRE(online.has_value());
    CHECK(online->body.at("Total") == 4);  // the router says each is connected, "fresh" too
    CHECK(f.router.links_asked == std::vector<std::size_t>{4});
    const auto inactive = f.run("QueryDeviceByStatus", {{"Status", "0"}});
    REQUIRE(inactive.has_value());
    CHECK(inactive->body.at("Total") == 1);
    CHECK(f.router.links_asked.size() == 1);
}

TEST_CASE(
    "QueryDevicePropertyStatus: the latest value of each property posted with the model's name, "
    "unit and type, and a deleted device's values go",
    "[http]") {
    fixture f;
    REQUIRE(catalog::add_tsl(R"({"properties": [
        {"identifier": "Temp", "name": "Temperature", "accessMode": "r",
         "dataType": {"type": "float", "specs": {"unit": "°C"}}},
        {"identifier": "Mode", "name": "Mode", "accessMode": "rw",
         "dataType": {"type": "text", "specs": {"length": "16"}}}]})",
                             f.models["a1pk"]));
    const catalog::device_key dev1{"a1pk", "dev1"};
    CHECK(f.properties.posted(
              dev1, boost::json::parse(R"({"Temp": 20.5, "Mode": "eco"})").as_object(), 1000) == 0);
    f.properties.posted(
        dev1, boost::json::parse(R"({"Temp": {"value": 23.5, "time": 1524448722000}})").as_object(),
        2000);
    const auto r =
        f.run("QueryDevicePropertyStatus", {{"ProductKey", "a1pk"}, {"DeviceName", "dev1"}});
    REQUIRE(r.has_value());
    const auto& list = r->body.at("Data").at("List").at("PropertyStatusInfo").as_array();
    REQUIRE(list.size() == 2);
    CHECK(list[0].at("Identifier") == "Mode");
    CHECK(list[0].at("Value") == "eco");  // a text value unquoted
    CHECK(list[0].at("Time") == "1000");
    CHECK(list[0].at("DataType") == "text");
    CHECK(list[1].at("Identifier") == "Temp");
    CHECK(list[1].at("Value") == "23.5");
    CHECK(list[1].at("Time") == "1524448722000");  // the time the device gave
    CHECK(list[1].at("Name") == "Temperature");
    CHECK(list[1].at("Unit") == "°C");
    // A device that posted nothing: an empty list; an unknown one: the platform's code.
    const auto none =
        f.run("QueryDevicePropertyStatus", {{"ProductKey", "a1pk"}, {"DeviceName", "dev2"}});
    REQUIRE(none.has_value());
    CHECK(none->body.at("Data").at("List").at("PropertyStatusInfo").as_array().empty());
    const auto unknown =
        f.run("QueryDevicePropertyStatus", {{"ProductKey", "a1pk"}, {"DeviceName", "nobody"}});
    REQUIRE_FALSE(unknown.has_value());
    CHECK(unknown.error().code == "iot.device.NotExistedDevice");
    // DeleteDevice takes its values with it.
    REQUIRE(f.run("DeleteDevice", {{"ProductKey", "a1pk"}, {"DeviceName", "dev1"}}).has_value());
    CHECK(f.properties.of(dev1).empty());
    CHECK(f.properties.bytes() == 0);
}
