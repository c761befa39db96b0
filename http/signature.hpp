#pragma once

#include "http/params.hpp"
#include "kit/crypto.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rrpcd::http {

/// Percent-encodes the UTF-8 bytes of `s`, keeping only `A-Z a-z 0-9 - _ . ~`, upper-case hex
/// (RFC 3986; what the SDKs sign with).
std::string percent_encode(std::string_view s);

/// V1 (HMAC-SHA1) string to sign: `METHOD&%2F&pct(sorted k=v joined by &)`. `params` is the
/// whole signed set: query and form, without `Signature`.
std::string v1_string_to_sign(std::string_view method, param_views params);

/// The V1 signing key of an AccessKeySecret: HMAC-SHA1 under `secret + "&"`.
kit::hmac_key v1_key(std::string_view access_key_secret);

/// V1 signature: base64(HMAC-SHA1(secret + "&", string_to_sign)).
std::string v1_signature(kit::hmac_key& key, std::string_view string_to_sign);
std::string v1_signature(std::string_view access_key_secret, std::string_view string_to_sign);

/// The parts of `Authorization: ACS3-HMAC-SHA256 Credential=..,SignedHeaders=a;b,Signature=..`.
struct v3_authorization {
    std::string credential;                   ///< the AccessKeyId
    std::vector<std::string> signed_headers;  ///< lower-case names, in the order given
    std::string signed_headers_text;          ///< as sent, `a;b;c`
    std::string signature;                    ///< 64 lower-case hex digits
};

/// Parses a V3 Authorization header; nullopt unless it is ACS3-HMAC-SHA256 with all three parts.
std::optional<v3_authorization> parse_v3_authorization(std::string_view header);

/// V3 canonical request: METHOD\nURI\nQUERY\nHEADERS\nSIGNED\nHASHED_PAYLOAD. `headers` holds one
/// `name:value` line per signed header, in SignedHeaders order, each value trimmed and repeated
/// values joined by ','; `payload_sha256_hex` is the hex SHA-256 of the raw body.
std::string v3_canonical_request(std::string_view method, std::string_view path, param_views query,
                                 const std::vector<std::string>& header_lines,
                                 std::string_view signed_headers_text,
                                 std::string_view payload_sha256_hex);

/// The V3 signing key of an AccessKeySecret: HMAC-SHA256 under the secret.
kit::hmac_key v3_key(std::string_view access_key_secret);

/// V3 signature: hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex(sha256(canonical)))).
std::string v3_signature(kit::hmac_key& key, std::string_view canonical_request);
std::string v3_signature(std::string_view access_key_secret, std::string_view canonical_request);

}  // namespace rrpcd::http
