#include "console/assets.hpp"
#include "console/call_rates.hpp"
#include "console/session_table.hpp"
#include "console/site.hpp"
#include "rrpc/call_log.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace rrpcd;
using namespace rrpcd::console;
using namespace std::chrono_literals;

TEST_CASE("console sessions: a token finds its session until it expires or is closed") {
    auto s = std::make_shared<config::settings>();
    s->console.session_ttl = 60s;
    const config::settings_ptr settings = s;
    session_table table{settings};
    const auto t0 = session_table::clock::now();
    auto opened = table.open({"LTAIkey", {}, role::operator_}, t0, 1'000'000);
    CHECK(opened.token.size() == 64);
    CHECK(opened.s.csrf.size() == 64);
    CHECK(opened.s.csrf != opened.token);
    CHECK(opened.s.expires_ms == 1'060'000);
    const auto token = opened.token;
    REQUIRE(table.find(token, t0 + 59s) != nullptr);
    CHECK(table.find(token, t0 + 59s)->access_key_id == "LTAIkey");
    CHECK(table.find(token.substr(0, 63) + (token.back() == '0' ? "1" : "0"), t0) == nullptr);
    CHECK(table.find("", t0) == nullptr);
    CHECK(table.find(token, t0 + 60s) == nullptr);  // expired, and forgotten
    CHECK(table.size() == 0);
    auto again = table.open({"LTAIkey", {}, role::operator_}, t0, 0);
    CHECK(again.token != token);
    CHECK(table.close(again.token));
    CHECK_FALSE(table.close(again.token));
    CHECK(table.find(again.token, t0) == nullptr);
}

TEST_CASE(
    "console roles: a viewer runs the read-only actions without secrets, an operator every one") {
    for (const auto* read : {"QueryProduct", "QueryProductList", "QueryThingModel",
                             "GetDeviceStatus", "GetThingModelTsl", "BatchGetDeviceState",
                             "QueryMessageInfo", "QueryDevicePropertyStatus"}) {
        CHECK(may_run(role::viewer, read));
        CHECK(may_run(role::operator_, read));
    }
    for (const auto* write : {"RRpc", "AsyncRRpc", "InvokeThingService", "Pub", "RegisterDevice",
                              "DeleteDevice", "DisableThing", "EnableThing", "SetDeviceProperty",
                              "CreateProduct", "", "query", "BatchSet",
                              // their answers carry DeviceSecrets
                              "QueryDevice", "QueryDeviceByStatus", "QueryDeviceDetail"}) {
        CHECK_FALSE(may_run(role::viewer, write));
        CHECK(may_run(role::operator_, write));
    }
}

TEST_CASE("console sessions: at max_sessions the oldest ends for a new one") {
    auto s = std::make_shared<config::settings>();
    s->console.max_sessions = 3;
    const config::settings_ptr settings = s;
    session_table table{settings};
    const auto now = session_table::clock::now();
    std::vector<std::string> tokens;
    for (int i = 0; i < 5; ++i)
        tokens.push_back(table.open({"k", {}, role::operator_}, now, 0).token);
    CHECK(table.size() == 3);
    CHECK(table.find(tokens[0], now) == nullptr);
    CHECK(table.find(tokens[1], now) == nullptr);
    CHECK(table.find(tokens[4], now) != nullptr);
    // Sessions closed before their turn leave room; the order never outgrows the table by much.
    for (int i = 0; i < 1000; ++i)
        table.close(table.open({"k", {}, role::operator_}, now, 0).token);
    CHECK(table.size() == 2);
    CHECK(table.find(tokens[4], now) != nullptr);
}

TEST_CASE("console cookies: the value among others, the attributes, the CSRF check") {
    CHECK(cookie_value("rrpcd_console=abc", cookie_name) == "abc");
    CHECK(cookie_value("a=1; rrpcd_console=abc; b=2", cookie_name) == "abc");
    CHECK(cookie_value("a=1;rrpcd_console=abc", cookie_name) == "abc");
    CHECK(cookie_value("xrrpcd_console=abc; rrpcd_console_x=1", cookie_name) == std::nullopt);
    CHECK(cookie_value("", cookie_name) == std::nullopt);
    CHECK(cookie_value(";;;=;", cookie_name) == std::nullopt);
    CHECK(cookie_value("rrpcd_console=", cookie_name) == "");
    CHECK(session_cookie("t0k", 28800s, false) ==
          "rrpcd_console=t0k; Path=/console; Max-Age=28800; HttpOnly; SameSite=Strict");
    CHECK(session_cookie("t0k", 60s, true).ends_with("; Secure"));
    CHECK(cleared_cookie(false).starts_with("rrpcd_console=; Path=/console; Max-Age=0;"));
    session s{"k", {}, role::operator_, "csrf-token", {}, 0};
    CHECK(csrf_matches(s, "csrf-token"));
    CHECK_FALSE(csrf_matches(s, "csrf-tokeN"));
    CHECK_FALSE(csrf_matches(s, ""));
    CHECK_FALSE(csrf_matches(s, "csrf-token "));
}

TEST_CASE(
    "console call rates: deltas land in 10-second buckets, gaps are empty, five minutes kept") {
    call_rates rates;
    const auto t0 = call_rates::clock::now();
    rates.sample(t0, {5, 0, 0, 0, 0});  // what came before start-up is not shown
    REQUIRE(rates.buckets().size() == 1);
    CHECK(rates.buckets()[0].ended == outcome_counts{});
    rates.sample(t0 + 3s, {7, 1, 0, 0, 0});
    rates.sample(t0 + 9s, {8, 1, 0, 0, 0});
    REQUIRE(rates.buckets().size() == 1);
    CHECK(rates.buckets()[0].ended == outcome_counts{3, 1, 0, 0, 0});
    rates.sample(t0 + 35s, {8, 1, 2, 0, 0});  // two empty buckets, then this one
    REQUIRE(rates.buckets().size() == 4);
    CHECK(rates.buckets()[1].ended == outcome_counts{});
    CHECK(rates.buckets()[2].ended == outcome_counts{});
    CHECK(rates.buckets()[3].ended == outcome_counts{0, 0, 2, 0, 0});
    CHECK(rates.buckets()[3].start == t0 + 30s);
    rates.sample(t0 + 1h, {9, 1, 2, 0, 1});  // an hour later: not an hour of buckets
    CHECK(rates.buckets().size() <= call_rates::kept);
    CHECK(rates.buckets().back().ended == outcome_counts{1, 0, 0, 0, 1});
    rates.sample(t0 + 1h + 1s, {9, 1, 2, 0, 1});
    CHECK(rates.buckets().back().ended == outcome_counts{1, 0, 0, 0, 1});
}

TEST_CASE("call log: recent calls newest first across both budgets, filtered, published once") {
    rrpc::call_log log{60s, {10, 1 << 20, 10, 1 << 20}};
    const auto t0 = rrpc::call_record::clock::now();
    const auto add = [&](std::uint64_t id, rrpc::call_kind kind, std::string dn, int at) {
        rrpc::call_record r;
        r.message_id = id;
        r.kind = kind;
        r.device = {"pk", std::move(dn)};
        r.created = t0 + std::chrono::milliseconds{at};
        log.add(std::move(r));
    };
    add(1, rrpc::call_kind::rrpc, "a", 0);
    add(2, rrpc::call_kind::async_rrpc, "b", 1);
    add(3, rrpc::call_kind::rrpc, "a", 2);
    add(4, rrpc::call_kind::thing_async, "a", 3);
    const auto all = [](const rrpc::call_record&) { return true; };
    // The MessageIds of a page, and where the next one starts.
    const auto page = [&](std::size_t limit, const auto& keep, std::uint64_t before = 0,
                          std::size_t scan = 10'000) {
        std::vector<std::uint64_t> ids;
        const auto p = log.recent(
            limit, keep, [&](const rrpc::call_record& r) { ids.push_back(r.message_id); }, before,
            scan);
        CHECK(p.count == ids.size());
        return std::pair{ids, p.next};
    };
    CHECK(page(10, all).first == std::vector<std::uint64_t>{4, 3, 2, 1});
    const auto first = page(2, all);
    CHECK(first.first == std::vector<std::uint64_t>{4, 3});
    CHECK(first.second == 3);  // the next page: the calls made before 3
    CHECK(page(2, all, first.second).first == std::vector<std::uint64_t>{2, 1});
    CHECK(page(2, all, first.second).second == 0);  // no more
    CHECK(page(10, [](const auto& r) { return r.device.device_name == "a"; }).first ==
          std::vector<std::uint64_t>{4, 3, 1});
    const auto bounded = page(10, all, 0, 2);  // looked at 2, then stopped
    CHECK(bounded.first == std::vector<std::uint64_t>{4, 3});
    CHECK(bounded.second == 3);
    CHECK(log.find(3)->published == rrpc::call_record::clock::time_point{});
    log.published(3);
    const auto at = log.find(3)->published;
    CHECK(at != rrpc::call_record::clock::time_point{});
    log.published(3);
    CHECK(log.find(3)->published == at);
    log.published(99);  // unknown: nothing
}

TEST_CASE("console assets: the pages are embedded, sorted, each with its type") {
    const auto all = assets();
    REQUIRE(all.size() >= 5);
    std::set<std::string_view> paths;
    for (std::size_t i = 0; i < all.size(); ++i) {
        paths.insert(all[i].path);
        CHECK(!all[i].body.empty());
        if (i > 0) CHECK(all[i - 1].path < all[i].path);
    }
    REQUIRE(find_asset("index.html") != nullptr);
    CHECK(find_asset("index.html")->body.find("app.js") != std::string_view::npos);
    CHECK(find_asset("pages/try.js") != nullptr);
    CHECK(find_asset("../index.html") == nullptr);
    CHECK(find_asset("") == nullptr);
    CHECK(content_type_of("a/b.js") == "text/javascript; charset=utf-8");
    CHECK(content_type_of("index.html") == "text/html; charset=utf-8");
    CHECK(content_type_of("style.css") == "text/css; charset=utf-8");
    CHECK(content_type_of("icon.svg") == "image/svg+xml");
}

TEST_CASE("console event stream: a reconnection's Last-Event-ID, else ?since=, else live only") {
    const auto get = [](std::string target, std::string last = {}) {
        site::request req{boost::beast::http::verb::get, target, 11};
        if (!last.empty()) req.set("Last-Event-ID", last);
        return site::replay_from(req);
    };
    CHECK(get("/console/api/events?since=0") == std::optional<std::uint64_t>{0});  // a page's first
    CHECK(get("/console/api/events?since=0", "1234") == std::optional<std::uint64_t>{1234});
    CHECK(get("/console/api/events") == std::nullopt);
    CHECK(get("/console/api/events?since=x") == std::nullopt);
    CHECK(get("/console/api/events?since=-1") == std::nullopt);
}

TEST_CASE("a call's timeline names what it waits for") {
    rrpc::call_record call;
    call.message_id = 42;
    call.kind = rrpc::call_kind::thing_async;
    call.topic = "/sys/a1/dev/thing/service/SetWeight";
    device_live device;
    // A QoS 1 request queued for a device that is away.
    device.queued = {{42, call.topic, 30, false}};
    device.queued_total = 1;
    CHECK(waiting_for(call, device) == "the device to log in (its QoS 1 message is queued)");
    // Online, but the message waits for its topic's subscription (or the settled session).
    device.online = true;
    CHECK(waiting_for(call, device).starts_with("the device to subscribe to " + call.topic));
    // Written: its PUBACK.
    device.queued[0].sent = true;
    call.published = rrpc::call_record::clock::now();
    CHECK(waiting_for(call, device) == "the device's PUBACK of the message on " + call.topic);
    // Acknowledged (gone from the queue): the answer on its _reply topic.
    device.queued.clear();
    device.queued_total = 0;
    CHECK(waiting_for(call, device) ==
          "the device's answer on " + call.topic + "_reply, or the answer's retention");
    device.online = false;
    CHECK(waiting_for(call, device).ends_with("; the device is offline"));
    // A sync call waits for the answer until its timeout.
    call.kind = rrpc::call_kind::rrpc;
    device.online = true;
    CHECK(waiting_for(call, device) == "the device's answer (until the call's timeout)");
    // Not yet handed to a session: behind others in a queue longer than the page lists.
    call.published = {};
    device.queued = {{7, "/x", 1, true}};
    device.queued_total = 150;
    CHECK(waiting_for(call, device) == "its turn in the device's queue (150 messages)");
    device = {};
    CHECK(waiting_for(call, device) == "the device to log in");
}
