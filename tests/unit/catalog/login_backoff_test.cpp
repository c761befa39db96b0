#include "catalog/login_backoff.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::catalog;
using boost::asio::ip::make_address;

TEST_CASE("failed logins back off per address and username, doubling up to the max", "[catalog]") {
    rrpcd::config::login_backoff_settings settings;
    settings.failures = 2;
    settings.max_delay = std::chrono::seconds{4};
    settings.max_entries = 3;
    login_backoff backoff{settings};
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

    // Bounded, and new pairs are always tracked: at capacity the least recent pair that is not
    // blocked makes room.
    for (int i = 0; i < 3; ++i)
        backoff.failed({make_address("10.1.0." + std::to_string(i)), "x"}, t0);
    CHECK(backoff.tracked() == 3);
    const login_backoff::who late{make_address("10.2.0.1"), "x"};
    backoff.failed(late, t0);
    backoff.failed(late, t0);  // blocked now
    CHECK(backoff.tracked() == 3);
    CHECK(backoff.blocked(late, t0));
}

TEST_CASE("at capacity a blocked guesser is not pushed out by a flood of new names", "[catalog]") {
    rrpcd::config::login_backoff_settings settings;
    settings.failures = 2;
    settings.max_delay = std::chrono::seconds{300};
    settings.max_entries = 100;
    login_backoff backoff{settings};
    const login_backoff::clock::time_point t0{std::chrono::hours{1}};
    const login_backoff::who guesser{make_address("10.0.0.1"), "dev1&pk"};
    for (int i = 0; i < 4; ++i) backoff.failed(guesser, t0);  // blocked for 4 s
    // 100,000 new names, one failure each (not blocked): they make room for each other.
    const auto later = t0 + std::chrono::seconds{1};
    for (int i = 0; i < 100'000; ++i)
        backoff.failed({make_address("10.9.9.8"), "n" + std::to_string(i)}, later);
    CHECK(backoff.tracked() == 100);
    CHECK(backoff.blocked(guesser, later));
    // And the newest name is tracked.
    backoff.failed({make_address("10.9.9.8"), "n99999"}, later);
    CHECK(backoff.blocked({make_address("10.9.9.8"), "n99999"}, later));
}

TEST_CASE("a pair is kept as a fixed-size digest of its name, whatever the name's length",
          "[catalog]") {
    rrpcd::config::login_backoff_settings settings;
    settings.failures = 1;
    login_backoff backoff{settings};
    const login_backoff::clock::time_point t0{std::chrono::hours{1}};
    const std::string long_name(1'500'000, 'k');
    const login_backoff::who a{make_address("10.0.0.1"), long_name};
    static_assert(sizeof(login_backoff::who) <= 64, "no name bytes are held");
    backoff.failed(a, t0);
    CHECK(backoff.blocked(login_backoff::who{make_address("10.0.0.1"), long_name}, t0));
    CHECK_FALSE(backoff.blocked(login_backoff::who{make_address("10.0.0.1"), long_name + "x"}, t0));
    CHECK_FALSE(backoff.blocked(login_backoff::who{make_address("10.0.0.2"), long_name}, t0));
}
