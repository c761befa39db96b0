#include "kit/base64.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::kit;

TEST_CASE("base64 round trips RFC 4648 vectors", "[rrpc]") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        CHECK(base64_encode(plain) == encoded);
        CHECK(base64_decode(encoded) == std::string{plain});
    }
    CHECK(base64_decode("aGVsbG8") == std::string{"hello"});  // padding is optional
    const std::string binary("\x00\x01\x02\xFE\xFF+/=", 8);
    CHECK(base64_decode(base64_encode(binary)) == binary);
    CHECK(base64_decode("AAEC/v8rLz1+") ==
          std::string("\x00\x01\x02\xFE\xFF+/=~", 9));  // the SDK vectors' payload
}

TEST_CASE("base64 refuses anything but the standard alphabet", "[rrpc]") {
    CHECK_FALSE(base64_decode("Zm9v!"));
    CHECK_FALSE(base64_decode("Zm 9v"));
    CHECK_FALSE(base64_decode("Zm9v\n"));
    CHECK_FALSE(base64_decode("Zm9v-_"));  // URL-safe alphabet
    CHECK_FALSE(base64_decode("Z"));       // a lone sextet
    CHECK_FALSE(base64_decode("Zg="));     // padding with a wrong length
    CHECK_FALSE(base64_decode("Z==="));
    CHECK_FALSE(base64_decode("Zg==Zg=="));
}
