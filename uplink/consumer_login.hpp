#pragma once

#include "kit/crypto.hpp"

#include <boost/system/result.hpp>

#include <string>
#include <string_view>

namespace rrpcd::uplink {

/// What an AMQP consumer of the server-side subscription says in its SASL PLAIN user name, as
/// Alibaba's official samples build it:
/// `${clientId}|authMode=aksign,signMethod=hmacsha1,timestamp=${ms},authId=${AccessKeyId},iotInstanceId=${id},consumerGroupId=${group}|`
/// (the pairs in any order; `authMode=ststoken` adds `securityToken`).
struct consumer_login {
    std::string client_id;
    bool sts = false;  ///< authMode=ststoken (securityToken signed too)
    kit::hmac_algorithm sign_method = kit::hmac_algorithm::sha1;
    std::string timestamp;  ///< as sent: digits (the Go sample sends 0-999, the Node one 2019's)
    std::string auth_id;    ///< the AccessKeyId
    std::string instance_id;
    std::string group;  ///< consumerGroupId
    std::string security_token;
};

/// Parses a consumer's user name; the error says what is wrong with it (for the log: the user
/// name carries no secret). `signMethod` is compared without case (the Go sample writes
/// `Hmacsha1`); pairs the platform does not define are ignored, a pair given twice is refused.
boost::system::result<consumer_login, std::string> parse_consumer_login(std::string_view user);

/// What the password signs: the signed parameters sorted by name, `k=v` joined by `&`
/// (`authId=…&timestamp=…`, or `authId=…&securityToken=…&timestamp=…`).
std::string string_to_sign(const consumer_login& login);

/// The password a consumer holding the access key's secret sends: Base64 of the raw HMAC
/// (signMethod) of string_to_sign() under the secret. `hmac` signs with the secret of
/// login.auth_id (the caller holds the keys).
std::string expected_password(const consumer_login& login, std::string_view secret);

/// True when `password` is the one the login's key signs (`signed_by_key` is the raw HMAC
/// of string_to_sign() under that key's secret, by signMethod); compared in constant time.
bool password_matches(std::string_view password, std::string_view signed_by_key);

}  // namespace rrpcd::uplink
