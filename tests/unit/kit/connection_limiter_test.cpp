#include "kit/connection_limiter.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::kit;
using boost::asio::ip::make_address;

TEST_CASE("connections are limited in total and per address", "[kit]") {
    connection_limiter limiter{3, 2};
    const auto a = make_address("10.0.0.1"), b = make_address("10.0.0.2");
    using v = connection_limiter::verdict;
    CHECK(limiter.admit(a) == v::admitted);
    CHECK(limiter.admit(a) == v::admitted);
    CHECK(limiter.admit(a) == v::per_address);
    CHECK(limiter.admit(b) == v::admitted);
    CHECK(limiter.admit(b) == v::total);
    CHECK(limiter.open() == 3);
    limiter.release(a);
    CHECK(limiter.admit(b) == v::admitted);
    limiter.set_limits(3, 1);  // a reload applies to the next admission
    limiter.release(b);
    CHECK(limiter.admit(b) == v::per_address);
    limiter.set_limits(3, 2);
    REQUIRE(limiter.admit(a) == v::admitted);
    CHECK(limiter.open() == 3);
    {
        const connection_slot slot{limiter, a};  // an admitted connection, released at its end
    }
    CHECK(limiter.open() == 2);
    limiter.release(make_address("10.9.9.9"));  // never admitted: no effect
    CHECK(limiter.open() == 2);
}

TEST_CASE("an authenticated connection counts in total, not towards its address", "[kit]") {
    connection_limiter limiter{10, 2};
    const auto a = make_address("10.0.0.1");
    using v = connection_limiter::verdict;
    {
        REQUIRE(limiter.admit(a) == v::admitted);
        connection_slot first{limiter, a};
        REQUIRE(limiter.admit(a) == v::admitted);
        connection_slot second{limiter, a};
        CHECK(limiter.admit(a) == v::per_address);
        first.authenticated();  // a device logged in on it
        first.authenticated();  // once only
        REQUIRE(limiter.admit(a) == v::admitted);
        connection_slot third{limiter, a};
        CHECK(limiter.admit(a) == v::per_address);
        CHECK(limiter.open() == 3);
    }
    CHECK(limiter.open() == 0);
    CHECK(limiter.admit(a) == v::admitted);
    CHECK(limiter.admit(a) == v::admitted);
    CHECK(limiter.admit(a) == v::per_address);
}
