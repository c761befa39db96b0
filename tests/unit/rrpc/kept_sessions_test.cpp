#include "rrpc/kept_sessions.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::rrpc;
using rrpcd::catalog::device_key;
using rrpcd::mqtt::qos;

TEST_CASE("a clean=0 session is resumed, discarded by clean=1, and expires without a login",
          "[rrpc][MQTT-3.1.2-4][MQTT-3.1.2-6]") {
    const device_key a{"pk", "a"}, b{"pk", "b"};
    kept_sessions sessions{std::chrono::seconds{100}};
    CHECK(sessions.resume(a, 0) == nullptr);  // nothing kept: a new session
    sessions.keep(a, {{{"/sys/pk/a/rrpc/request/+", qos::at_most_once}}, 1000, false});
    const auto* resumed = sessions.resume(a, 50'000);
    REQUIRE(resumed != nullptr);
    CHECK(resumed->filters.size() == 1);
    CHECK(resumed->last_seen_ms == 50'000);  // a login restarts the expiry
    CHECK(sessions.discard(a));
    CHECK_FALSE(sessions.discard(a));
    CHECK(sessions.resume(a, 50'000) == nullptr);

    // Left at 1 s: expired at 101 s, whether found by a login or by the sweep.
    sessions.keep(a, {{}, 1000, false});
    sessions.keep(b, {{}, 1000, false});
    CHECK(sessions.expire(100'999).empty());
    CHECK(sessions.resume(a, 101'000) == nullptr);
    CHECK(sessions.expire(101'000) == std::vector<device_key>{b});
    CHECK(sessions.expired() == 2);
    CHECK(sessions.size() == 0);

    // While a connection serves it, a session never expires.
    sessions.keep(a, {{}, 0, true});
    CHECK(sessions.expire(10'000'000).empty());
    CHECK(sessions.size() == 1);
}
