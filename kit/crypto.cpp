#include "kit/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <boost/algorithm/hex.hpp>

#include <iterator>
#include <stdexcept>

namespace rrpcd::kit {

namespace {

const char* digest_name(hmac_algorithm algorithm) noexcept {
    switch (algorithm) {
        case hmac_algorithm::md5: return "MD5";
        case hmac_algorithm::sha1: return "SHA1";
        case hmac_algorithm::sha256: break;
    }
    return "SHA256";
}

}  // namespace

void hmac_key::free_ctx::operator()(evp_mac_ctx_st* ctx) const noexcept {
    EVP_MAC_CTX_free(ctx);
}

hmac_key::hmac_key(hmac_algorithm algorithm, std::string_view key) {
    // The algorithm is fetched once per process; each key keeps its own context.
    static const std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)> mac{
        EVP_MAC_fetch(nullptr, "HMAC", nullptr), &EVP_MAC_free};
    if (!mac) throw std::runtime_error("OpenSSL has no HMAC");
    ctx_.reset(EVP_MAC_CTX_new(mac.get()));
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                         const_cast<char*>(digest_name(algorithm)), 0),
        OSSL_PARAM_construct_end()};
    // An empty key is valid HMAC; OpenSSL wants a non-null pointer for it.
    static const unsigned char empty = 0;
    const auto* bytes = key.empty() ? &empty : reinterpret_cast<const unsigned char*>(key.data());
    if (!ctx_ || EVP_MAC_init(ctx_.get(), bytes, key.size(), params) != 1)
        throw std::runtime_error("HMAC key set-up failed");
}

std::string hmac_key::sign(std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    std::size_t len = 0;
    // A null key re-initialises with the key already set: the pads are not hashed again.
    if (EVP_MAC_init(ctx_.get(), nullptr, 0, nullptr) != 1 ||
        EVP_MAC_update(ctx_.get(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) != 1 ||
        EVP_MAC_final(ctx_.get(), out, &len, sizeof out) != 1)
        throw std::runtime_error("HMAC failed");
    return {reinterpret_cast<const char*>(out), len};
}

std::string hmac(hmac_algorithm algorithm, std::string_view key, std::string_view data) {
    return hmac_key{algorithm, key}.sign(data);
}

namespace {

std::string digest(std::string_view data, const EVP_MD* md) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
    return {reinterpret_cast<const char*>(out), len};
}

}  // namespace

std::string sha256(std::string_view data) {
    return digest(data, EVP_sha256());
}

std::string sha1(std::string_view data) {
    return digest(data, EVP_sha1());
}

std::string to_hex(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    boost::algorithm::hex_lower(bytes.begin(), bytes.end(), std::back_inserter(out));
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
        throw std::runtime_error("OpenSSL RAND_bytes failed");
    return out;
}

}  // namespace rrpcd::kit
