#pragma once

#include "catalog/device_key.hpp"
#include "kit/crypto.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace rrpcd::catalog {

/// The parts of an Alibaba MQTT client id `id|securemode=3,signmethod=hmacsha1,timestamp=..|`.
struct client_id_parts {
    std::string id;          ///< the prefix before the first '|'; signed as clientId
    std::string securemode;  ///< "2" (TLS) or "3" (TCP), as sent
    kit::hmac_algorithm signmethod =
        kit::hmac_algorithm::md5;          ///< the platform's default is hmacmd5
    std::optional<std::string> timestamp;  ///< signed when present; never checked for freshness
    bool ext = false;  ///< `ext=1`: sync services on `/ext/rrpc/{id}/sys/…` (Link SDKs)
    bool server_subscribe = false;  ///< `_ss=1`: the platform subscribes its topics for it
};

/// Parses the client id. The `|...|` block is comma-separated `k=v`, whitespace around each part
/// trimmed (aliyun-iot-device-sdk 1.0.1 puts newlines in it); unknown keys are ignored.
/// nullopt when there is no block, no securemode, or an unknown signmethod.
std::optional<client_id_parts> parse_client_id(std::string_view client_id);

/// Parses the user name `deviceName&productKey`. nullopt unless both parts are non-empty.
std::optional<device_key> parse_username(std::string_view username);

/// The signed content: `clientId{id}deviceName{dn}productKey{pk}[timestamp{ts}]` (keys sorted).
std::string login_sign_content(const client_id_parts& parts, const device_key& device);

/// Checks the MQTT password: hex HMAC (case-insensitive) of the sign content keyed by the
/// device secret, with the claimed signmethod, or with HMAC-SHA1 (the official Node SDK signs
/// with SHA1 whatever signmethod says).
bool verify_login_password(const client_id_parts& parts, const device_key& device,
                           std::string_view device_secret, std::string_view password);

}  // namespace rrpcd::catalog
