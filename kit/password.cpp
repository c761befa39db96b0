#include "kit/password.hpp"

#include "kit/base64.hpp"
#include "kit/crypto.hpp"
#include "kit/parse_whole.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace rrpcd::kit {

namespace {

constexpr std::string_view scheme = "$scrypt$";
constexpr std::uint64_t max_memory = std::uint64_t{64} << 20;

/// scrypt's working memory, 128·r·N bytes, which OpenSSL refuses past its `maxmem`.
std::uint64_t memory_of(const scrypt_cost& c) {
    return std::uint64_t{128} * c.r * (std::uint64_t{1} << c.log2_n);
}

std::optional<std::string> derive(std::string_view password, std::string_view salt,
                                  const scrypt_cost& c, std::size_t key_bytes) {
    std::string key(key_bytes, '\0');
    if (EVP_PBE_scrypt(password.data(), password.size(),
                       reinterpret_cast<const unsigned char*>(salt.data()), salt.size(),
                       std::uint64_t{1} << c.log2_n, c.r, c.p,
                       memory_of(c) + (std::uint64_t{1} << 20),
                       reinterpret_cast<unsigned char*>(key.data()), key.size()) != 1)
        return std::nullopt;
    return key;
}

/// Base64 without its padding, as PHC strings write it.
std::string unpadded(std::string_view bytes) {
    auto text = base64_encode(bytes);
    while (!text.empty() && text.back() == '=') text.pop_back();
    return text;
}

}  // namespace

std::optional<password_hash> parse_password_hash(std::string_view text) {
    if (!text.starts_with(scheme)) return std::nullopt;
    text.remove_prefix(scheme.size());
    // ln=15,r=8,p=1$salt$key
    const auto params_end = text.find('$');
    if (params_end == std::string_view::npos) return std::nullopt;
    auto params = text.substr(0, params_end);
    auto rest = text.substr(params_end + 1);
    const auto salt_end = rest.find('$');
    if (salt_end == std::string_view::npos) return std::nullopt;
    password_hash h;
    bool ln = false, r = false, p = false;
    while (!params.empty()) {
        const auto comma = params.find(',');
        const auto pair = params.substr(0, comma);
        params = comma == std::string_view::npos ? std::string_view{} : params.substr(comma + 1);
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos) return std::nullopt;
        const auto value = parse_whole<unsigned>(pair.substr(eq + 1));
        if (!value) return std::nullopt;
        const auto name = pair.substr(0, eq);
        if (name == "ln" && !ln)
            ln = true, h.cost.log2_n = *value;
        else if (name == "r" && !r)
            r = true, h.cost.r = *value;
        else if (name == "p" && !p)
            p = true, h.cost.p = *value;
        else
            return std::nullopt;
    }
    if (!ln || !r || !p) return std::nullopt;
    if (h.cost.log2_n < 10 || h.cost.log2_n > 20 || h.cost.r < 1 || h.cost.r > 32 || h.cost.p < 1 ||
        h.cost.p > 16 || memory_of(h.cost) > max_memory)
        return std::nullopt;
    const auto decode = [](std::string_view b64) -> std::optional<std::string> {
        std::string padded{b64};
        while (padded.size() % 4 != 0) padded += '=';
        return base64_decode(padded);
    };
    auto salt = decode(rest.substr(0, salt_end));
    auto key = decode(rest.substr(salt_end + 1));
    if (!salt || !key || salt->size() < 8 || salt->size() > 64 || key->size() < 16 ||
        key->size() > 64)
        return std::nullopt;
    h.salt = std::move(*salt);
    h.key = std::move(*key);
    return h;
}

std::string hash_password_with(std::string_view password, std::string_view salt, scrypt_cost cost,
                               std::size_t key_bytes) {
    const auto key = derive(password, salt, cost, key_bytes);
    if (!key) throw std::runtime_error("scrypt failed (OpenSSL)");
    return std::string{scheme} + "ln=" + std::to_string(cost.log2_n) +
           ",r=" + std::to_string(cost.r) + ",p=" + std::to_string(cost.p) + "$" + unpadded(salt) +
           "$" + unpadded(*key);
}

std::string hash_password(std::string_view password, scrypt_cost cost) {
    return hash_password_with(password, random_bytes(16), cost, 32);
}

bool verify_password(std::string_view password, const password_hash& hash) {
    const auto key = derive(password, hash.salt, hash.cost, hash.key.size());
    return key && constant_time_equal(*key, hash.key);
}

}  // namespace rrpcd::kit
