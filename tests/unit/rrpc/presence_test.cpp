#include "rrpc/presence.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::rrpc;
using namespace std::chrono_literals;

TEST_CASE("liveness follows the platform's HALFCONN rules", "[rrpc]") {
    const auto t0 = presence::clock::now();
    const presence never{};
    CHECK(classify(never, t0) == liveness::offline);

    const presence connected{presence::state::connected, t0, 60s};
    CHECK(classify(connected, t0 + 59s) == liveness::online);
    CHECK(classify(connected, t0 + 61s) == liveness::half_connected);  // missed a heartbeat

    const presence lost{presence::state::lost, t0, 60s};
    CHECK(classify(lost, t0) == liveness::half_connected);
    CHECK(classify(lost, t0 + 59s) == liveness::half_connected);
    CHECK(classify(lost, t0 + 60s) == liveness::offline);

    const presence left{presence::state::left_cleanly, t0, 60s};
    CHECK(classify(left, t0) == liveness::offline);

    const presence no_keepalive{presence::state::connected, t0, 0s};
    CHECK(classify(no_keepalive, t0 + 3600s) == liveness::online);
}
