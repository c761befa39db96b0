#include "catalog/device_auth.hpp"

#include "data_dir.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::catalog;
using namespace rrpcd::kit;

TEST_CASE("the platform doc's password vector", "[rrpc]") {
    // clientId=12345, deviceName=device, productKey=pk, timestamp=789, secret=secret, hmacsha1.
    const auto parts = parse_client_id("12345|securemode=3,signmethod=hmacsha1,timestamp=789|");
    REQUIRE(parts);
    const device_key dev{"pk", "device"};
    CHECK(login_sign_content(*parts, dev) ==
          "clientId12345deviceNamedeviceproductKeypktimestamp789");
    CHECK(verify_login_password(*parts, dev, "secret", "FAFD82A3D602B37FB0FA8B7892F24A477F851A14"));
    CHECK(verify_login_password(*parts, dev, "secret", "fafd82a3d602b37fb0fa8b7892f24a477f851a14"));
    CHECK_FALSE(
        verify_login_password(*parts, dev, "Secret", "FAFD82A3D602B37FB0FA8B7892F24A477F851A14"));
}

TEST_CASE("logins captured from the official device SDK verify", "[rrpc]") {
    const auto vectors = rrpcd::test::load_data("device-auth-vectors.json").as_array();
    REQUIRE(vectors.size() >= 4);
    for (const auto& v : vectors) {
        const auto& c = v.at("connect").as_object();
        const auto& cfg = v.at("sdkConfig").as_object();
        const std::string client_id{c.at("clientId").as_string()};
        INFO(client_id);
        const auto parts = parse_client_id(client_id);
        REQUIRE(parts);
        const auto device = parse_username(std::string{c.at("username").as_string()});
        REQUIRE(device);
        CHECK(device->product_key == cfg.at("productKey").as_string());
        CHECK(device->device_name == cfg.at("deviceName").as_string());
        CHECK(login_sign_content(*parts, *device) == v.at("signContent").as_string());
        const std::string secret{cfg.at("deviceSecret").as_string()};
        const std::string password{c.at("password").as_string()};
        CHECK(verify_login_password(*parts, *device, secret, password));
        CHECK_FALSE(verify_login_password(*parts, *device, secret + "x", password));
    }
}

TEST_CASE("client id parsing", "[rrpc]") {
    SECTION("the Node SDK's extras are ignored") {
        const auto p = parse_client_id(
            "a1PK&dev1|securemode=3,signmethod=hmacsha256,timestamp=1,lan=NodeJS,_v=1.2.8|");
        REQUIRE(p);
        CHECK(p->id == "a1PK&dev1");
        CHECK(p->securemode == "3");
        CHECK(p->signmethod == hmac_algorithm::sha256);
        CHECK(p->timestamp == "1");
        CHECK_FALSE(p->ext);
    }
    SECTION("the old SDK's whitespace inside the block") {
        const auto p = parse_client_id(
            "dev_aliyun-iot-device-sdk-js|securemode=3,\n        signmethod=hmacsha1,\n        "
            "timestamp=42|\n      ");
        REQUIRE(p);
        CHECK(p->signmethod == hmac_algorithm::sha1);
        CHECK(p->timestamp == "42");
    }
    SECTION("ext=1 and no timestamp; hmacmd5") {
        const auto p = parse_client_id("x|securemode=2,signmethod=hmacmd5,ext=1|");
        REQUIRE(p);
        CHECK(p->ext);
        CHECK_FALSE(p->timestamp);
        CHECK(p->signmethod == hmac_algorithm::md5);
    }
    SECTION("the Link SDKs' flags: Python 1.2.13 and C 3.2.0 as captured") {
        const auto py = parse_client_id(
            "a1Bar&dev-01|securemode=3,signmethod=hmacsha1,ext=1,_ss=1,lan=Python,_v=1.2.13,"
            "timestamp=1796151560|");
        REQUIRE(py);
        CHECK(py->ext);
        CHECK(py->server_subscribe);
        CHECK(py->timestamp == "1796151560");  // seconds: signed as sent, never checked
        const auto c = parse_client_id(
            "a1pk.c320|timestamp=2524608000000,_v=sdk-c-3.2.0,securemode=3,"
            "signmethod=hmacsha256,lan=C,_ss=1,gw=0,ext=0|");
        REQUIRE(c);
        CHECK_FALSE(c->ext);
        CHECK(c->server_subscribe);
        CHECK(c->signmethod == hmac_algorithm::sha256);
        CHECK_FALSE(parse_client_id("x|securemode=3,signmethod=hmacsha1|")->server_subscribe);
    }
    SECTION("refusals") {
        CHECK_FALSE(parse_client_id("plain-client-id"));
        CHECK_FALSE(parse_client_id("x|securemode=3,signmethod=hmacsha1"));  // unterminated block
        CHECK_FALSE(parse_client_id("x|signmethod=hmacsha1|"));              // no securemode
        CHECK_FALSE(parse_client_id("x|securemode=3,signmethod=rot13|"));
    }
}

TEST_CASE("user name parsing", "[rrpc]") {
    const auto d = parse_username("dev1&a1PK");
    REQUIRE(d);
    CHECK(d->device_name == "dev1");
    CHECK(d->product_key == "a1PK");
    CHECK_FALSE(parse_username("dev1"));
    CHECK_FALSE(parse_username("&a1PK"));
    CHECK_FALSE(parse_username("dev1&"));
}

TEST_CASE("each signmethod verifies with its own digest, and SHA1 is accepted for all", "[rrpc]") {
    const device_key dev{"pk", "dn"};
    for (const auto& [name, algorithm] :
         {std::pair{"hmacmd5", hmac_algorithm::md5}, std::pair{"hmacsha1", hmac_algorithm::sha1},
          std::pair{"hmacsha256", hmac_algorithm::sha256}}) {
        const auto parts =
            parse_client_id(std::string{"id|securemode=3,signmethod="} + name + ",timestamp=5|");
        REQUIRE(parts);
        const auto content = login_sign_content(*parts, dev);
        CHECK(verify_login_password(*parts, dev, "s", to_hex(hmac(algorithm, "s", content))));
        CHECK(verify_login_password(*parts, dev, "s",
                                    to_hex(hmac(hmac_algorithm::sha1, "s", content))));
        CHECK_FALSE(verify_login_password(*parts, dev, "s", to_hex(hmac(algorithm, "t", content))));
    }
}
