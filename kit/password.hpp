#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rrpcd::kit {

/// scrypt's cost parameters (RFC 7914): N = 2^log2_n, r, p.
struct scrypt_cost {
    unsigned log2_n = 15;
    unsigned r = 8;
    unsigned p = 1;
    bool operator==(const scrypt_cost&) const = default;
};

/// A password hash in the PHC string form `$scrypt$ln=15,r=8,p=1$<salt>$<key>` (salt and key in
/// standard base64 without padding), as `rrpcd hash-password` prints it.
struct password_hash {
    scrypt_cost cost;
    std::string salt;  ///< raw bytes, 8 to 64
    std::string key;   ///< raw bytes, 16 to 64
};

/// Parses a hash string; nullopt when it is not one, or when its cost is outside what a sign-in
/// may spend (ln 10..20, r 1..32, p 1..16, and at most 64 MiB of memory: 128·r·N bytes).
std::optional<password_hash> parse_password_hash(std::string_view text);

/// A new hash of `password` with a random 16-byte salt and a 32-byte key (OpenSSL's scrypt).
std::string hash_password(std::string_view password, scrypt_cost cost = {});

/// The hash string of `password` with the given salt and key length (tests, and hash_password).
std::string hash_password_with(std::string_view password, std::string_view salt, scrypt_cost cost,
                               std::size_t key_bytes);

/// True when `password` derives the key of `hash` (compared in constant time). CPU-bound for
/// tens of milliseconds at the default cost: never on an io thread.
bool verify_password(std::string_view password, const password_hash& hash);

}  // namespace rrpcd::kit
