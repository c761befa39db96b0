#include "http/signature.hpp"

#include "kit/base64.hpp"
#include "kit/crypto.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/algorithm/string/split.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <algorithm>

namespace rrpcd::http {
namespace {

/// Appends `s` percent-encoded (see percent_encode) to `out`, in one pass and without a
/// temporary string.
void append_encoded(std::string& out, std::string_view s) {
    const auto at = out.size();
    out.resize(at + 3 * s.size());  // room for the worst case: every byte escaped
    out.resize(
        at + boost::urls::encode(out.data() + at, 3 * s.size(), s, boost::urls::unreserved_chars));
}

/// `k=v&k=v` of the params sorted by name (byte order), both percent-encoded.
std::string canonical_query(param_views params) {
    std::stable_sort(params.begin(), params.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::size_t size = 0;
    for (const auto& [k, v] : params) size += k.size() + v.size() + 2;
    std::string out;
    out.reserve(size * 3 / 2);
    for (const auto& [k, v] : params) {
        if (!out.empty()) out += '&';
        append_encoded(out, k);
        out += '=';
        append_encoded(out, v);
    }
    return out;
}

}  // namespace

std::string percent_encode(std::string_view s) {
    std::string out;
    append_encoded(out, s);
    return out;
}

std::string v1_string_to_sign(std::string_view method, param_views params) {
    const auto query = canonical_query(std::move(params));
    std::string out;
    out.reserve(method.size() + 5 + query.size() * 5 / 4);
    out += method;
    out += "&%2F&";
    append_encoded(out, query);
    return out;
}

kit::hmac_key v1_key(std::string_view access_key_secret) {
    return {kit::hmac_algorithm::sha1, std::string{access_key_secret} + "&"};
}

std::string v1_signature(kit::hmac_key& key, std::string_view string_to_sign) {
    return kit::base64_encode(key.sign(string_to_sign));
}

std::string v1_signature(std::string_view access_key_secret, std::string_view string_to_sign) {
    auto key = v1_key(access_key_secret);
    return v1_signature(key, string_to_sign);
}

std::optional<v3_authorization> parse_v3_authorization(std::string_view header) {
    constexpr std::string_view scheme = "ACS3-HMAC-SHA256 ";
    if (!boost::algorithm::starts_with(header, scheme)) return std::nullopt;
    header.remove_prefix(scheme.size());
    v3_authorization auth;
    std::vector<std::string> parts;
    boost::algorithm::split(parts, header, [](char c) { return c == ','; });
    for (const auto& part : parts) {
        const auto eq = part.find('=');
        if (eq == std::string::npos) return std::nullopt;
        const auto key = std::string_view{part}.substr(0, eq);
        const auto value = part.substr(eq + 1);
        if (key == "Credential")
            auth.credential = value;
        else if (key == "SignedHeaders")
            auth.signed_headers_text = value;
        else if (key == "Signature")
            auth.signature = value;
    }
    if (auth.credential.empty() || auth.signed_headers_text.empty() || auth.signature.empty())
        return std::nullopt;
    boost::algorithm::split(auth.signed_headers, auth.signed_headers_text,
                            [](char c) { return c == ';'; });
    return auth;
}

std::string v3_canonical_request(std::string_view method, std::string_view path, param_views query,
                                 const std::vector<std::string>& header_lines,
                                 std::string_view signed_headers_text,
                                 std::string_view payload_sha256_hex) {
    std::string out{method};
    out += '\n';
    out += path;
    out += '\n';
    out += canonical_query(std::move(query));
    out += '\n';
    for (const auto& line : header_lines) {
        out += line;
        out += '\n';
    }
    out += '\n';
    out += signed_headers_text;
    out += '\n';
    out += payload_sha256_hex;
    return out;
}

kit::hmac_key v3_key(std::string_view access_key_secret) {
    return {kit::hmac_algorithm::sha256, access_key_secret};
}

std::string v3_signature(kit::hmac_key& key, std::string_view canonical_request) {
    const auto string_to_sign = "ACS3-HMAC-SHA256\n" + kit::to_hex(kit::sha256(canonical_request));
    return kit::to_hex(key.sign(string_to_sign));
}

std::string v3_signature(std::string_view access_key_secret, std::string_view canonical_request) {
    auto key = v3_key(access_key_secret);
    return v3_signature(key, canonical_request);
}

}  // namespace rrpcd::http
