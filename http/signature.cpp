#include "http/signature.hpp"

#include "rrpc/base64.hpp"
#include "rrpc/crypto.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/algorithm/string/split.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <algorithm>

namespace rrpcd::http {
namespace {

/// `k=v&k=v` of the params sorted by name (byte order), both percent-encoded.
std::string canonical_query(param_list params) {
    std::stable_sort(params.begin(), params.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string out;
    for (const auto& [k, v] : params) {
        if (!out.empty()) out += '&';
        out += percent_encode(k);
        out += '=';
        out += percent_encode(v);
    }
    return out;
}

}  // namespace

std::string percent_encode(std::string_view s) {
    return boost::urls::encode(s, boost::urls::unreserved_chars);
}

std::string v1_string_to_sign(std::string_view method, param_list params) {
    return std::string{method} + "&%2F&" + percent_encode(canonical_query(std::move(params)));
}

std::string v1_signature(std::string_view access_key_secret, std::string_view string_to_sign) {
    return rrpc::base64_encode(rrpc::hmac(rrpc::hmac_algorithm::sha1,
                                          std::string{access_key_secret} + "&", string_to_sign));
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

std::string v3_canonical_request(std::string_view method, std::string_view path, param_list query,
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

std::string v3_signature(std::string_view access_key_secret, std::string_view canonical_request) {
    const auto string_to_sign =
        "ACS3-HMAC-SHA256\n" + rrpc::to_hex(rrpc::sha256(canonical_request));
    return rrpc::to_hex(
        rrpc::hmac(rrpc::hmac_algorithm::sha256, access_key_secret, string_to_sign));
}

}  // namespace rrpcd::http
