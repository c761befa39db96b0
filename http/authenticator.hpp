#pragma once

#include "config/settings.hpp"
#include "http/api_error.hpp"
#include "http/nonce_cache.hpp"
#include "http/params.hpp"
#include "kit/crypto.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace rrpcd::http {

/// Who signed a request, and how.
struct caller {
    std::string access_key_id;
    bool v3 = false;  ///< ACS3-HMAC-SHA256 (action and version come from x-acs-* headers)
    config::qps_limits qps{};
};

/// Verifies both signature schemes the official SDKs send (V1 HMAC-SHA1 `Signature` parameter,
/// V3 ACS3-HMAC-SHA256 `Authorization` header), the timestamp skew and nonce replay. Any
/// thread: the keys are an immutable table swapped whole at a reload (each request reads the
/// table it started with), each key signs under its own lock (an HMAC of one string to sign,
/// ~1 µs), and the nonce cache has its own.
class authenticator {
public:
    using request = boost::beast::http::request<boost::beast::http::string_body>;

    authenticator(const std::vector<config::access_key>& keys, std::chrono::seconds window,
                  std::size_t nonce_capacity);

    /// HTTP Basic `AccessKeyId:AccessKeySecret` (for the /v1 endpoints: streams and lookups).
    boost::system::result<caller, api_error> verify_basic(const request& req) const;
    /// An access key id and its secret, as given (the console's sign-in); constant-time.
    boost::system::result<caller, api_error> verify_secret(std::string_view id,
                                                           std::string_view secret) const;
    /// The caller of key `id` while it is one of the keys (a console session ends with its key).
    std::optional<caller> caller_of(std::string_view id) const;

    /// The raw HMAC (`algorithm`) of `data` under the secret of key `id`, nullopt when there is
    /// no such key (the AMQP consumers' login signs with it; the secret stays here).
    std::optional<std::string> hmac_of(std::string_view id, kit::hmac_algorithm algorithm,
                                       std::string_view data) const;

    /// The nonces remembered now, and those forgotten before their window ended (the metrics).
    struct nonce_figures {
        std::size_t size = 0;
        std::uint64_t forgotten = 0;
    };
    nonce_figures nonces() const;

    /// Replaces the keys (configuration reload); remembered nonces stay.
    void set_keys(const std::vector<config::access_key>& keys);

    /// Checks `req` whose decoded parameters are `params`; the error is the cloud's.
    boost::system::result<caller, api_error> verify(const request& req, std::string_view path,
                                                    const request_params& params,
                                                    nonce_cache::clock::time_point now);

private:
    boost::system::result<caller, api_error> verify_v1(const request& req,
                                                       const request_params& params,
                                                       nonce_cache::clock::time_point now);
    boost::system::result<caller, api_error> verify_v3(const request& req, std::string_view path,
                                                       const request_params& params,
                                                       nonce_cache::clock::time_point now);
    /// Timestamp and nonce, checked after the signature so that strangers cannot fill the cache.
    boost::system::result<void, api_error> check_fresh(std::string_view key_id,
                                                       std::string_view timestamp,
                                                       std::string_view nonce,
                                                       nonce_cache::clock::time_point now);

    /// A key with its two signing keys, each set up at its first use and then reused (not set
    /// up per request, nor at start-up, where OpenSSL's provider would cost ~0.8 MB of pages),
    /// under the key's own lock.
    struct key_state {
        explicit key_state(config::access_key e) : entry(std::move(e)) {}
        const config::access_key entry;
        /// The HMAC of `data` with the key's V1 (`v3` false) or V3 signing key.
        std::string sign(bool v3, std::string_view data) const;

    private:
        mutable std::mutex signing_;
        mutable std::optional<kit::hmac_key> v1_, v3_;
    };
    using key_table = std::map<std::string, key_state, std::less<>>;
    /// The table now (a reload swaps it; a request keeps the one it read).
    std::shared_ptr<const key_table> keys() const;

    mutable std::mutex keys_mutex_;
    std::shared_ptr<const key_table> keys_;
    mutable std::mutex nonces_mutex_;
    nonce_cache nonces_;
};

/// True when `authorization` is `Bearer <token>` (a non-empty token; compared in constant time).
bool is_scrape_token(std::string_view authorization, std::string_view token) noexcept;

/// The user name (AccessKeyId) an `Authorization: Basic …` header claims, at most 128 bytes of
/// it; "" when the header is not Basic or does not decode.
std::string basic_user(std::string_view authorization);

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (UTC), as both schemes send it.
std::optional<std::chrono::system_clock::time_point> parse_iso8601_utc(std::string_view s);

}  // namespace rrpcd::http
