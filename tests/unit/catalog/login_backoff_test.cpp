#include "catalog/login_backoff.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::catalog;
using boost::asio::ip::make_address;

TEST_CASE("failed logins back off per address and username, doubling up to the max", "[catalog]") {
    rrpcd::config::login_backoff_settings settings;
    settings.failures = 2;
    settings.max_delay = std::chrono::seconds{4};
    login_backoff backoff{settings, 3};
    const login_backoff::clock::time_point t0{std::chrono::hours{1}};
    using std::chrono::milliseconds;
    const login_backoff::who guesser{make_address("10.0.0.1"), "dev1&pk"};
    const login_backoff::who neighbour{make_address("10.0.0.1"), "dev2&pk"};

    backoff.failed(guesser, t0);
    CHECK_FALSE(backoff.blocked(guesser, t0));
    backoff.failed(guesser, t0);  // the second in a row: 1 s
    CHECK(backoff.blocked(guesser, t0 + milliseconds{999}));
    CHECK_FALSE(backoff.blocked(guesser, t0 + milliseconds{1000}));
    CHECK_FALSE(backoff.blocked(neighbour, t0));       // same address, another device
    backoff.failed(guesser, t0 + milliseconds{1000});  // 2 s
    CHECK(backoff.blocked(guesser, t0 + milliseconds{2999}));
    backoff.failed(guesser, t0 + milliseconds{3000});  // 4 s
    backoff.failed(guesser, t0 + milliseconds{3000});  // still 4 s: the max
    CHECK(backoff.blocked(guesser, t0 + milliseconds{6999}));
    CHECK_FALSE(backoff.blocked(guesser, t0 + milliseconds{7000}));
    backoff.succeeded(guesser);
    CHECK_FALSE(backoff.blocked(guesser, t0 + milliseconds{3000}));

    // Bounded: at capacity, stale entries go first; when none is stale, new ones are not kept.
    for (int i = 0; i < 3; ++i)
        backoff.failed({make_address("10.1.0." + std::to_string(i)), "x"}, t0);
    CHECK(backoff.tracked() == 3);
    backoff.failed({make_address("10.2.0.1"), "x"}, t0);
    CHECK(backoff.tracked() == 3);
    backoff.failed({make_address("10.2.0.1"), "x"}, t0 + std::chrono::seconds{10});  // others stale
    CHECK(backoff.tracked() == 1);
}
