#include "http/rate_limiter.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::http;
using namespace std::chrono_literals;

TEST_CASE("a batch takes one token per device: 100 devices cost what 100 calls do", "[http]") {
    rate_limiter limiter;
    const rate_limiter::clock::time_point t0{1h};
    // A bucket of 500 a second: five batches of 100, then nothing until it refills.
    for (int i = 0; i < 5; ++i) CHECK(limiter.allow("key", "invoke", 500, t0, 100));
    CHECK_FALSE(limiter.allow("key", "invoke", 500, t0, 100));
    CHECK_FALSE(limiter.allow("key", "invoke", 500, t0, 1));
    CHECK(limiter.allow("other", "invoke", 500, t0, 100));        // another key is not charged
    CHECK(limiter.allow("key", "invoke", 500, t0 + 200ms, 100));  // 0.2 s refills 100
    // A cost above the limit never passes (the bucket holds at most `qps`).
    CHECK_FALSE(limiter.allow("small", "invoke", 50, t0 + 10s, 100));
}
