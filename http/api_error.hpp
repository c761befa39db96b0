#pragma once

#include <string>

namespace rrpcd::http {

/// A refusal in the cloud's terms. `status` 200 is a business error (`Success:false` with
/// Code/ErrorMessage/Message, returned by iot20180120, thrown by pop-core); 4xx/5xx is a
/// gateway error (`Code`/`Message`/`HostId`/`Recommend`) that both SDKs throw.
struct api_error {
    unsigned status = 400;
    std::string code;
    std::string message;
    unsigned retry_after_ms = 0;  ///< throttling: sent as x-acs-retry-after, which the SDKs read
};

/// Gateway errors, with the statuses the cloud uses.
namespace gateway {
inline api_error missing_parameter(const std::string& name) {
    return {400, "MissingParameter",
            "The input parameter \"" + name +
                "\" that is mandatory for processing this request is not supplied."};
}
inline api_error invalid_parameter(const std::string& name) {
    return {400, "InvalidParameter", "The specified parameter \"" + name + "\" is not valid."};
}
inline api_error incomplete_signature() {
    return {400, "IncompleteSignature",
            "The request signature does not conform to Aliyun standards."};
}
inline api_error signature_mismatch() {
    return {400, "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation."};
}
inline api_error unknown_access_key() {
    return {404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."};
}
inline api_error timestamp_expired() {
    return {400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."};
}
inline api_error timestamp_format() {
    return {400, "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted."};
}
inline api_error nonce_used() {
    return {400, "SignatureNonceUsed", "Specified signature nonce was used already."};
}
inline api_error invalid_version() {
    return {400, "InvalidVersion", "Specified parameter Version is not valid."};
}
inline api_error invalid_action(const std::string& action) {
    return {404, "InvalidAction.NotFound",
            "Specified api \"" + action + "\" is not found, please check your url and method."};
}
inline api_error throttled() {
    return {400, "Throttling.User", "Request was denied due to user flow control.", 1000};
}
inline api_error unauthorized() {
    return {401, "Unauthorized",
            "Use HTTP Basic authentication with an AccessKeyId and its AccessKeySecret."};
}
inline api_error not_found(const std::string& what) {
    return {404, "NotFound", what + " is not found."};
}
inline api_error internal_error() {
    return {500, "InternalError", "The request processing has failed due to some unknown error."};
}
/// The store could not write what the request asked to keep: nothing was accepted, try again.
inline api_error service_unavailable() {
    return {503, "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server."};
}
}  // namespace gateway

/// Business errors (HTTP 200, `Success:false`).
inline api_error business(std::string code, std::string message) {
    return {200, std::move(code), std::move(message)};
}

}  // namespace rrpcd::http

#include <boost/assert/source_location.hpp>

#include <stdexcept>

namespace rrpcd::http {
/// Lets `result<T, api_error>::value()` throw; rrpcd reads results without it.
[[noreturn]] inline void throw_exception_from_error(const api_error& e,
                                                    const boost::source_location&) {
    throw std::runtime_error(e.code + ": " + e.message);
}
}  // namespace rrpcd::http
