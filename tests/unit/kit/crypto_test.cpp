#include "kit/crypto.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::kit;

TEST_CASE("HMAC matches RFC 2202 and RFC 4231 vectors", "[rrpc]") {
    const std::string key = "Jefe", data = "what do ya want for nothing?";
    CHECK(to_hex(hmac(hmac_algorithm::md5, key, data)) == "750c783e6ab0b503eaa86e310a5db738");
    CHECK(to_hex(hmac(hmac_algorithm::sha1, key, data)) ==
          "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    CHECK(to_hex(hmac(hmac_algorithm::sha256, key, data)) ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // A key longer than the block is hashed first (RFC 2202 case 6).
    CHECK(to_hex(hmac(hmac_algorithm::sha1, std::string(80, '\xaa'),
                      "Test Using Larger Than Block-Size Key - Hash Key First")) ==
          "aa4ae5e15272d00e95705637ce8a3b55ed402112");
    CHECK(to_hex(hmac(hmac_algorithm::sha256, "", "")) ==
          "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST_CASE("A set-up HMAC key gives each message its own digest, however often it is reused",
          "[rrpc]") {
    hmac_key key{hmac_algorithm::sha1, "Jefe"};
    const std::string data = "what do ya want for nothing?";
    for (int i = 0; i < 3; ++i) {
        CHECK(to_hex(key.sign(data)) == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
        CHECK(key.sign("other") == hmac(hmac_algorithm::sha1, "Jefe", "other"));
    }
    hmac_key empty{hmac_algorithm::sha1, ""};
    CHECK(to_hex(empty.sign("")) == "fbdb1d1b18aa6c08324b7d64b71fb76370690e1d");
}
