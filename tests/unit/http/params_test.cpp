#include "http/params.hpp"
#include "http/nonce_cache.hpp"

#include "catch_result.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::http;
using namespace std::chrono_literals;

TEST_CASE("form and query decoding", "[http]") {
    const auto p = parse_form("A=1&B=x%20y+z&C=&D&E=%E4%B8%AD!'()*");
    REQUIRE(p);
    REQUIRE(p->size() == 5);
    CHECK((*p)[1] == std::pair<std::string, std::string>{"B", "x y z"});
    CHECK((*p)[2].second.empty());
    CHECK((*p)[3].first == "D");
    CHECK((*p)[4].second == "\xE4\xB8\xAD!'()*");
    CHECK(find_param(*p, "A") == "1");
    CHECK_FALSE(find_param(*p, "Z"));
    CHECK(parse_form("")->empty());
}

TEST_CASE("invalid percent-encoding is an error", "[http]") {
    CHECK_FALSE(parse_form("A=%zz"));
    CHECK_FALSE(parse_form("A=%4"));
    CHECK_FALSE(parse_form("A=a b"));
}

TEST_CASE("request params look in the query, then the form body", "[http]") {
    request_params p;
    p.query = {{"A", "q"}};
    p.form = {{"A", "f"}, {"B", "f"}};
    CHECK(p.get("A") == "q");
    CHECK(p.get("B") == "f");
    CHECK(p.all().size() == 3);
}

TEST_CASE("nonces are remembered for the window, within a bounded memory", "[http]") {
    const auto now = std::chrono::system_clock::now();
    nonce_cache cache{900s, 3};
    CHECK(cache.check("k", "n1", now, now) == nonce_cache::verdict::fresh);
    CHECK(cache.check("k", "n1", now, now) == nonce_cache::verdict::replayed);
    CHECK(cache.check("other", "n1", now, now) == nonce_cache::verdict::fresh);  // per access key
    CHECK(cache.check("k", "n2", now - 901s, now) == nonce_cache::verdict::expired);
    CHECK(cache.check("k", "n2", now + 901s, now) == nonce_cache::verdict::expired);
    CHECK(cache.check("k", "n3", now - 10s, now) == nonce_cache::verdict::fresh);
    // Past capacity the entry signed earliest (n3) is forgotten, and its key's floor rises to it.
    CHECK(cache.check("k", "n4", now - 5s, now) == nonce_cache::verdict::fresh);
    CHECK(cache.size() == 3);
    CHECK(cache.check("k", "n3", now - 10s, now) == nonce_cache::verdict::expired);  // no replay
    CHECK(cache.check("k", "n5", now - 11s, now) == nonce_cache::verdict::expired);
    CHECK(cache.check("k", "n1", now, now) == nonce_cache::verdict::replayed);  // still known
    CHECK(cache.check("k", "n6", now - 9s, now) == nonce_cache::verdict::fresh);
    // Another key's floor did not rise.
    CHECK(cache.check("other", "n2", now - 30s, now) == nonce_cache::verdict::fresh);
    // Entries outside the window leave by themselves.
    CHECK(cache.check("k", "n7", now + 902s, now + 1800s) == nonce_cache::verdict::fresh);
    CHECK(cache.size() == 1);
}

TEST_CASE("a request signed 14 minutes ahead and a flood raise no floor for anyone", "[http]") {
    const auto now = std::chrono::system_clock::now();
    nonce_cache cache{900s, 100};
    CHECK(cache.check("early", "f", now + 14min, now) == nonce_cache::verdict::fresh);
    // Signed within one second (the Timestamp's resolution), past the capacity: the flooding
    // key's own floor rises to that second, so only it is refused for the rest of it.
    int refused = 0;
    for (int i = 0; i < 1000; ++i)
        refused += cache.check("flood", std::to_string(i), now, now) != nonce_cache::verdict::fresh;
    CHECK(refused == 900);
    CHECK(cache.size() <= 100);
    // The future-dated entry is never the earliest: it is still remembered, and nobody's floor
    // moved past now.
    CHECK(cache.check("early", "f", now + 14min, now) == nonce_cache::verdict::replayed);
    CHECK(cache.check("honest", "h", now, now) == nonce_cache::verdict::fresh);
    CHECK(cache.check("early", "g", now + 1s, now) == nonce_cache::verdict::fresh);
    CHECK(cache.check("flood", "next", now + 1s, now) == nonce_cache::verdict::fresh);
    CHECK(cache.check("flood", "same second", now, now) == nonce_cache::verdict::expired);
}

TEST_CASE("of two nonces signed in one second, the one that came first is forgotten first",
          "[http]") {
    const auto now = std::chrono::system_clock::now();
    nonce_cache cache{900s, 10};
    for (int i = 0; i < 10; ++i)
        CHECK(cache.check("flood", std::to_string(i), now, now) == nonce_cache::verdict::fresh);
    CHECK(cache.check("honest", "h1", now, now) == nonce_cache::verdict::fresh);
    for (int i = 0; i < 9; ++i)
        CHECK(cache.check("flood", "later" + std::to_string(i), now + 1s, now) ==
              nonce_cache::verdict::fresh);
    // Every flood entry of that second went before the honest one: its key has no floor.
    CHECK(cache.check("honest", "h1", now, now) == nonce_cache::verdict::replayed);
    CHECK(cache.check("honest", "h2", now, now) == nonce_cache::verdict::fresh);
}

TEST_CASE("a request target in origin or absolute form, the latter naming this host",
          "[http][RFC9112-3.2.2]") {
    const auto origin = decode_request("/?Action=RRpc&A=%20", "h:80", "", "");
    REQUIRE(origin);
    CHECK(origin->path == "/");
    CHECK(origin->params.get("A") == " ");
    const auto absolute = decode_request("http://h:80/v1/x?Action=RRpc", "H:80", "", "");
    REQUIRE(absolute);
    CHECK(absolute->path == "/v1/x");
    CHECK(absolute->params.get("Action") == "RRpc");
    CHECK(decode_request("HTTPS://h:80/?A=1", "h:80", "", ""));
    CHECK(decode_request("http://h:80?A=1", "h:80", "", "")->path == "/");
    // Another authority, another scheme, or userinfo is not this server's target.
    CHECK_FALSE(decode_request("http://other:80/?A=1", "h:80", "", ""));
    CHECK_FALSE(decode_request("ftp://h:80/?A=1", "h:80", "", ""));
    CHECK_FALSE(decode_request("http://u:p@h:80/", "u:p@h:80", "", ""));
    CHECK_FALSE(decode_request("*", "h:80", "", ""));
    CHECK_FALSE(decode_request("", "h:80", "", ""));
}
