#include "kit/logfmt.hpp"
#include "kit/log_throttle.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::kit;

TEST_CASE("logfmt values: bare when they can be, else quoted and escaped", "[kit]") {
    CHECK(logfmt_value("plain") == "plain");
    CHECK(logfmt_value("") == "\"\"");
    CHECK(logfmt_value("two words") == "\"two words\"");
    CHECK(logfmt_value("a=b") == "\"a=b\"");
    CHECK(logfmt_value(R"(say "hi")") == R"("say \"hi\"")");
    CHECK(logfmt_value("back\\slash") == R"("back\\slash")");
    CHECK(logfmt_value("line\nforged=1") == R"("line\nforged=1")");
    CHECK(logfmt_value(std::string_view{"\x01\x7f", 2}) == R"("\x01\x7F")");
    CHECK(logfmt_value("abcdef", 3) == "abc...");
}

TEST_CASE("a logfmt line parses back to its fields, whatever the values held", "[kit]") {
    const std::string hostile = "x\" forged=\"1\n\\";
    const auto line = "event=test reason=" + logfmt_value(hostile) + " n=3 empty=\"\"";
    const auto fields = parse_logfmt(line).value();
    REQUIRE(fields.size() == 4);
    CHECK(fields[0] == std::pair<std::string, std::string>{"event", "test"});
    CHECK(fields[1].second == hostile);
    CHECK(fields[2].second == "3");
    CHECK(fields[3].second.empty());
    CHECK_FALSE(parse_logfmt("not logfmt at all"));
    CHECK_FALSE(parse_logfmt("k=\"unclosed"));
    CHECK_FALSE(parse_logfmt("k=\"closed\"x"));
}

TEST_CASE("a URL's password is masked, anything else is left as it is", "[kit]") {
    CHECK(redact_url("https://user:pa55@h:1/x?q=1") == "https://user:********@h:1/x?q=1");
    CHECK(redact_url("http://h/x") == "http://h/x");
    CHECK(redact_url("http://user@h/x") == "http://user@h/x");
    CHECK(redact_url("not a url ::") == "not a url ::");
}

TEST_CASE("the log throttle lets a bounded number of lines through per key and window", "[kit]") {
    using clock = log_throttle::clock;
    log_throttle t{2, std::chrono::seconds{60}, 2};
    const auto t0 = clock::time_point{} + std::chrono::hours{1};
    CHECK(t.allow("a", t0) == 0u);
    CHECK(t.allow("a", t0) == 0u);
    CHECK_FALSE(t.allow("a", t0));
    CHECK_FALSE(t.allow("a", t0));
    CHECK(t.allow("b", t0) == 0u);  // another key has its own budget
    // Past max_keys, a new key is counted, not tracked; its count comes with a later line.
    CHECK_FALSE(t.allow("c", t0));
    CHECK(t.keys() == 2);
    CHECK(t.allow("b", t0) == 1u);
    // The next window: the first line carries the count of the suppressed ones.
    CHECK(t.allow("a", t0 + std::chrono::seconds{60}) == 2u);
    CHECK(t.allow("a", t0 + std::chrono::seconds{60}) == 0u);
    // A key whose window ended without suppressed lines makes room for a new one.
    CHECK(t.allow("c", t0 + std::chrono::seconds{61}) == 0u);
    CHECK(t.keys() == 2);
}

#include "kit/backoff.hpp"
#include "kit/text_queue.hpp"

TEST_CASE("retries back off from 250 ms doubling to 30 s, and stop at the window", "[kit]") {
    using std::chrono::milliseconds;
    using std::chrono::seconds;
    CHECK(retry_delay(1, milliseconds{0}, seconds{3600}) == milliseconds{250});
    CHECK(retry_delay(2, milliseconds{250}, seconds{3600}) == milliseconds{500});
    CHECK(retry_delay(8, seconds{60}, seconds{3600}) == seconds{30});     // capped
    CHECK(retry_delay(1000, seconds{60}, seconds{3600}) == seconds{30});  // no overflow
    CHECK_FALSE(retry_delay(3, milliseconds{1900}, seconds{2}));          // 1 s more would pass 2 s
    CHECK(retry_delay(3, milliseconds{900}, seconds{2}) == milliseconds{1000});
}

TEST_CASE("a text queue hands each entry it drops to its owner", "[kit]") {
    text_queue q{2, 1 << 20};
    const auto text = [](const char* s) { return std::make_shared<const std::string>(s); };
    std::vector<std::uint64_t> dropped;
    const auto on_drop = [&](const text_queue::entry& e) { dropped.push_back(e.id); };
    CHECK(q.push({1, text("a"), 10}, on_drop) == 0);
    CHECK(q.push({2, text("b"), 11}, on_drop) == 0);
    CHECK(q.push({3, text("c"), 12}, on_drop) == 1);
    CHECK(dropped == std::vector<std::uint64_t>{1});
    CHECK(q.pop().queued_ms == 11);
}
