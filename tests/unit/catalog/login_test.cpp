#include "catalog/login.hpp"

#include "kit/crypto.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::catalog;
using boost::asio::ip::make_address;
using rrpcd::mqtt::connect_return_code;

namespace {

constexpr auto client_id = "dev1|securemode=3,signmethod=hmacsha1,timestamp=789|";

/// A CONNECT of dev1 signed with `secret` (HMAC-SHA1 of the platform's sign content).
rrpcd::mqtt::connect connect_of(const std::string& secret, std::uint16_t keep_alive = 60) {
    rrpcd::mqtt::connect c;
    c.client_id = client_id;
    c.username = "dev1&a1pk";
    c.keep_alive = keep_alive;
    const auto parts = parse_client_id(client_id);
    c.password = rrpcd::kit::to_hex(
        rrpcd::kit::hmac(rrpcd::kit::hmac_algorithm::sha1, secret,
                         login_sign_content(*parts, device_key{"a1pk", "dev1"})));
    return c;
}

struct fixture {
    rrpcd::config::mqtt_settings settings;
    login_backoff backoff{settings.login_backoff};
    login_policy policy{backoff};
    device_directory devices;
    login_policy::clock::time_point now{std::chrono::hours{1}};
    fixture() { devices.add(device_record{{"a1pk", "dev1"}, "s3cret", {}}); }
    login_verdict check(const rrpcd::mqtt::connect& c) {
        return policy.check(c, devices, make_address("10.0.0.1"), now, settings);
    }
};

}  // namespace

TEST_CASE("a correct login is accepted once, then it is no longer the first", "[catalog]") {
    fixture f;
    auto v = f.check(connect_of("s3cret"));
    REQUIRE(v.accepted());
    CHECK(v.reason == "ok");
    CHECK(v.device == device_key{"a1pk", "dev1"});
    CHECK(v.first_login);
    REQUIRE(v.flags);
    CHECK(v.flags->id == "dev1");
    f.devices.update(device_key{"a1pk", "dev1"}, [](device_record& d) {
        d.active_ms = 1;
        return true;
    });
    CHECK_FALSE(f.check(connect_of("s3cret")).first_login);
}

TEST_CASE("each refusal has its CONNACK code and reason, and no device", "[catalog]") {
    fixture f;
    auto c = connect_of("s3cret");
    SECTION("client id without the |...| block") {
        c.client_id = "dev1";
        const auto v = f.check(c);
        CHECK(v.code == connect_return_code::identifier_rejected);
        CHECK(v.reason == "client_id_format");
        CHECK_FALSE(v.device);
    }
    SECTION("user name without '&'") {
        c.username = "dev1";
        CHECK(f.check(c).reason == "username_format");
        CHECK(f.check(c).code == connect_return_code::bad_username_or_password);
    }
    SECTION("no user name") {
        c.username.reset();
        CHECK(f.check(c).reason == "username_format");
    }
    SECTION("unknown device") {
        c.username = "dev9&a1pk";
        CHECK(f.check(c).reason == "unknown_device");
        CHECK(f.check(c).code == connect_return_code::bad_username_or_password);
    }
    SECTION("wrong password") {
        const auto v = f.check(connect_of("wrong"));
        CHECK(v.reason == "bad_password");
        CHECK(v.code == connect_return_code::bad_username_or_password);
    }
    SECTION("no password") {
        c.password.reset();
        CHECK(f.check(c).reason == "bad_password");
    }
    SECTION("disabled device, even with the right password") {
        f.devices.update(device_key{"a1pk", "dev1"}, [](device_record& d) {
            d.disabled = true;
            return true;
        });
        const auto v = f.check(c);
        CHECK(v.code == connect_return_code::not_authorized);
        CHECK(v.reason == "disabled");
    }
    SECTION("keep-alive below and above the range") {
        CHECK(f.check(connect_of("s3cret", 29)).reason == "keep_alive_out_of_range");
        CHECK(f.check(connect_of("s3cret", 1201)).reason == "keep_alive_out_of_range");
        CHECK(f.check(connect_of("s3cret", 30)).accepted());
        CHECK(f.check(connect_of("s3cret", 1200)).accepted());
    }
}

TEST_CASE("failures back off the (address, username) pair, the right secret waits too",
          "[catalog]") {
    fixture f;
    for (int i = 0; i < 5; ++i) CHECK(f.check(connect_of("wrong")).reason == "bad_password");
    // Blocked: not even checked, so the right password is refused too, with 3 (unavailable).
    const auto blocked = f.check(connect_of("s3cret"));
    CHECK(blocked.code == connect_return_code::server_unavailable);
    CHECK(blocked.reason == "backoff");
    // Another address is not blocked.
    CHECK(
        f.policy.check(connect_of("s3cret"), f.devices, make_address("10.0.0.2"), f.now, f.settings)
            .accepted());
    f.now += std::chrono::seconds{2};
    CHECK(f.check(connect_of("s3cret")).accepted());
    CHECK(f.backoff.tracked() == 0);  // a success clears the pair
}

TEST_CASE("a reload's keep-alive range applies to the next login", "[catalog]") {
    fixture f;
    CHECK(f.check(connect_of("s3cret", 10)).reason == "keep_alive_out_of_range");
    f.settings.keep_alive_min = std::chrono::seconds{5};
    CHECK(f.check(connect_of("s3cret", 10)).accepted());
}
