#pragma once

#include <memory>
#include <string>
#include <string_view>

struct evp_mac_ctx_st;

namespace rrpcd::kit {

/// HMAC digests used by Alibaba's device login (signmethod) and the cloud API signatures.
enum class hmac_algorithm { md5, sha1, sha256 };

/// Raw HMAC of `data` under `key` (OpenSSL).
std::string hmac(hmac_algorithm algorithm, std::string_view key, std::string_view data);

/// One HMAC key, set up once (its pads hashed) and reused for many messages: a signature check
/// per API request costs one update and one final, not a lookup of the algorithm and a key
/// schedule. Not for concurrent use (one per thread).
class hmac_key {
public:
    hmac_key(hmac_algorithm algorithm, std::string_view key);

    /// Raw HMAC of `data`, the same bytes as `hmac(algorithm, key, data)`.
    std::string sign(std::string_view data);

private:
    struct free_ctx {
        void operator()(evp_mac_ctx_st* ctx) const noexcept;
    };
    std::unique_ptr<evp_mac_ctx_st, free_ctx> ctx_;
};

/// Raw SHA-256 of `data` (OpenSSL).
std::string sha256(std::string_view data);
/// Raw SHA-1 of `data` (OpenSSL; names, never security: Redis' script ids).
std::string sha1(std::string_view data);

/// Lower-case hex of raw bytes.
std::string to_hex(std::string_view bytes);

/// Compares in time independent of where `a` and `b` differ (OpenSSL CRYPTO_memcmp).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// `n` bytes from OpenSSL's CSPRNG (secrets, generated keys).
std::string random_bytes(std::size_t n);

}  // namespace rrpcd::kit
