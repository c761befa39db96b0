#include "kit/password.hpp"
#include "kit/base64.hpp"
#include "kit/crypto.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::kit;

namespace {
// The cheapest cost a hash may have: these tests derive keys, they do not measure them.
constexpr scrypt_cost cheap{10, 8, 1};
}  // namespace

TEST_CASE("scrypt password hashes: RFC 7914's vector, the PHC string, and verification", "[kit]") {
    // RFC 7914 section 12: scrypt("password", "NaCl", N=1024, r=8, p=16, dkLen=64).
    const auto rfc = hash_password_with("password", "NaCl", {10, 8, 16}, 64);
    // Salts shorter than 8 bytes are refused when read back: the vector checks the derivation.
    auto key_b64 = rfc.substr(rfc.rfind('$') + 1);
    while (key_b64.size() % 4 != 0) key_b64 += '=';
    CHECK(rfc.starts_with("$scrypt$ln=10,r=8,p=16$TmFDbA$"));
    CHECK(to_hex(*base64_decode(key_b64)) ==
          "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
          "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");

    const auto text = hash_password("correct horse", cheap);
    const auto h = parse_password_hash(text);
    REQUIRE(h);
    CHECK(h->cost == cheap);
    CHECK(h->salt.size() == 16);
    CHECK(h->key.size() == 32);
    CHECK(verify_password("correct horse", *h));
    CHECK_FALSE(verify_password("correct horsf", *h));
    CHECK_FALSE(verify_password("", *h));
    // Two hashes of one password differ (their salts do) and both verify.
    const auto other = hash_password("correct horse", cheap);
    CHECK(other != text);
    CHECK(verify_password("correct horse", *parse_password_hash(other)));
    // The default cost is what the command prints.
    CHECK(hash_password("x").starts_with("$scrypt$ln=15,r=8,p=1$"));
}

TEST_CASE("A password hash that is not one, or costs more than a sign-in may spend, is refused",
          "[kit]") {
    const auto good = hash_password_with("pw", "saltsalt", cheap, 32);
    REQUIRE(parse_password_hash(good));
    const auto salt_and_key = good.substr(good.find("$", 8));  // "$salt$key"
    for (const std::string& bad : {
             std::string{},
             std::string{"pw"},
             std::string{"$2b$10$abcdefghijklmnopqrstuv"},  // bcrypt
             "$scrypt$" + salt_and_key,
             "$scrypt$ln=10,r=8" + salt_and_key,
             "$scrypt$ln=10,r=8,p=1,x=2" + salt_and_key,
             "$scrypt$ln=10,ln=10,r=8" + salt_and_key,
             "$scrypt$ln=9,r=8,p=1" + salt_and_key,   // too cheap
             "$scrypt$ln=21,r=8,p=1" + salt_and_key,  // too dear
             "$scrypt$ln=20,r=8,p=1" + salt_and_key,  // 1 GiB
             "$scrypt$ln=15,r=0,p=1" + salt_and_key,
             "$scrypt$ln=15,r=8,p=17" + salt_and_key,
             "$scrypt$ln=-1,r=8,p=1" + salt_and_key,
             "$scrypt$ln=10,r=8,p=1$c2FsdA$" + good.substr(good.rfind('$') + 1),  // 4-byte salt
             std::string{"$scrypt$ln=10,r=8,p=1$c2FsdHNhbHQ$c2hvcnQ"},            // 5-byte key
             "$scrypt$ln=10,r=8,p=1$!!!!$" + good.substr(good.rfind('$') + 1),
             std::string{"$scrypt$ln=10,r=8,p=1$c2FsdHNhbHQ"},
         })
        CHECK_FALSE(parse_password_hash(bad));
    // ln=16, r=8: 128·8·65,536 bytes = 64 MiB, the most a hash may ask for.
    CHECK(parse_password_hash("$scrypt$ln=16,r=8,p=1" + salt_and_key));
    CHECK_FALSE(parse_password_hash("$scrypt$ln=17,r=8,p=1" + salt_and_key));
}
