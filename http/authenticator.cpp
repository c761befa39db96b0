#include "http/authenticator.hpp"

#include "http/signature.hpp"
#include "kit/base64.hpp"
#include "kit/crypto.hpp"
#include "kit/parse_whole.hpp"

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/algorithm/string/trim.hpp>

#include <algorithm>

namespace rrpcd::http {

namespace beast = boost::beast;

std::optional<std::chrono::system_clock::time_point> parse_iso8601_utc(std::string_view s) {
    if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != 'Z')
        return std::nullopt;
    const auto field = [s](std::size_t at, std::size_t n, int& out) {
        const auto v = kit::parse_whole<int>(s.substr(at, n));
        out = v.value_or(0);
        return v.has_value();
    };
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!field(0, 4, year) || !field(5, 2, month) || !field(8, 2, day) || !field(11, 2, hour) ||
        !field(14, 2, minute) || !field(17, 2, second))
        return std::nullopt;
    const std::chrono::year_month_day date{std::chrono::year{year},
                                           std::chrono::month{static_cast<unsigned>(month)},
                                           std::chrono::day{static_cast<unsigned>(day)}};
    if (!date.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    return std::chrono::sys_days{date} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
           std::chrono::seconds{second};
}

authenticator::authenticator(const std::vector<config::access_key>& keys,
                             std::chrono::seconds window, std::size_t nonce_capacity)
    : nonces_(window, nonce_capacity) {
    set_keys(keys);
}

void authenticator::set_keys(const std::vector<config::access_key>& keys) {
    auto table = std::make_shared<key_table>();
    for (const auto& k : keys)
        table->emplace(std::piecewise_construct, std::forward_as_tuple(k.id),
                       std::forward_as_tuple(k));
    const std::lock_guard lock{keys_mutex_};
    keys_ = std::move(table);
}

std::shared_ptr<const authenticator::key_table> authenticator::keys() const {
    const std::lock_guard lock{keys_mutex_};
    return keys_;
}

std::string authenticator::key_state::sign(bool v3, std::string_view data) const {
    const std::lock_guard lock{signing_};
    auto& signer = v3 ? v3_ : v1_;
    if (!signer) signer = v3 ? v3_key(entry.secret) : v1_key(entry.secret);
    return v3 ? v3_signature(*signer, data) : v1_signature(*signer, data);
}

std::optional<caller> authenticator::caller_of(std::string_view id) const {
    const auto table = keys();
    const auto key = table->find(id);
    if (key == table->end()) return std::nullopt;
    return caller{key->first, false, key->second.entry.qps};
}

std::optional<std::string> authenticator::hmac_of(std::string_view id,
                                                  kit::hmac_algorithm algorithm,
                                                  std::string_view data) const {
    const auto table = keys();
    const auto key = table->find(id);
    if (key == table->end()) return std::nullopt;
    return kit::hmac(algorithm, key->second.entry.secret, data);
}

authenticator::nonce_figures authenticator::nonces() const {
    const std::lock_guard lock{nonces_mutex_};
    return {nonces_.size(), nonces_.forgotten()};
}

bool is_scrape_token(std::string_view authorization, std::string_view token) noexcept {
    constexpr std::string_view scheme = "Bearer ";
    if (token.empty() || !authorization.starts_with(scheme)) return false;
    return kit::constant_time_equal(authorization.substr(scheme.size()), token);
}

std::string basic_user(std::string_view authorization) {
    if (!authorization.starts_with("Basic ")) return {};
    const auto decoded = kit::base64_decode(authorization.substr(6));
    if (!decoded) return {};
    return decoded->substr(0, std::min<std::size_t>(decoded->find(':'), 128));
}

boost::system::result<caller, api_error> authenticator::verify_basic(const request& req) const {
    const auto header = req[beast::http::field::authorization];
    if (!header.starts_with("Basic ")) return gateway::unauthorized();
    const auto decoded = kit::base64_decode(std::string_view{header}.substr(6));
    const auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) return gateway::unauthorized();
    return verify_secret(std::string_view{*decoded}.substr(0, colon),
                         std::string_view{*decoded}.substr(colon + 1));
}

boost::system::result<caller, api_error> authenticator::verify_secret(
    std::string_view id, std::string_view secret) const {
    const auto table = keys();
    const auto key = table->find(id);
    if (key == table->end() || !kit::constant_time_equal(key->second.entry.secret, secret))
        return gateway::unauthorized();
    return caller{key->first, false, key->second.entry.qps};
}

boost::system::result<caller, api_error> authenticator::verify(const request& req,
                                                               std::string_view path,
                                                               const request_params& params,
                                                               nonce_cache::clock::time_point now) {
    const auto authorization = req[beast::http::field::authorization];
    if (authorization.starts_with("ACS3-")) return verify_v3(req, path, params, now);
    return verify_v1(req, params, now);
}

boost::system::result<void, api_error> authenticator::check_fresh(
    std::string_view key_id, std::string_view timestamp, std::string_view nonce,
    nonce_cache::clock::time_point now) {
    const auto signed_at = parse_iso8601_utc(timestamp);
    if (!signed_at) return gateway::timestamp_format();
    const auto verdict = [&] {
        const std::lock_guard lock{nonces_mutex_};
        return nonces_.check(key_id, nonce, *signed_at, now);
    }();
    switch (verdict) {
        case nonce_cache::verdict::fresh: return {};
        case nonce_cache::verdict::replayed: return gateway::nonce_used();
        case nonce_cache::verdict::expired: break;
    }
    return gateway::timestamp_expired();
}

boost::system::result<caller, api_error> authenticator::verify_v1(
    const request& req, const request_params& params, nonce_cache::clock::time_point now) {
    for (const auto* name : {"Signature", "AccessKeyId", "Timestamp", "SignatureNonce"})
        if (!params.get(name)) return gateway::missing_parameter(name);
    if (params.get("SignatureMethod").value_or("HMAC-SHA1") != "HMAC-SHA1")
        return gateway::invalid_parameter("SignatureMethod");
    const auto key_id = *params.get("AccessKeyId");
    const auto table = keys();
    const auto key = table->find(key_id);
    if (key == table->end()) return gateway::unknown_access_key();

    auto signed_set = params.all();
    std::erase_if(signed_set, [](const auto& p) { return p.first == "Signature"; });
    const auto sts = v1_string_to_sign(req.method_string(), std::move(signed_set));
    if (!kit::constant_time_equal(key->second.sign(false, sts), *params.get("Signature"))) {
        auto e = gateway::signature_mismatch();
        e.message += " server string to sign is:" + sts;
        return e;
    }
    if (auto fresh =
            check_fresh(key_id, *params.get("Timestamp"), *params.get("SignatureNonce"), now);
        !fresh)
        return fresh.error();
    return caller{std::string{key_id}, false, key->second.entry.qps};
}

boost::system::result<caller, api_error> authenticator::verify_v3(
    const request& req, std::string_view path, const request_params& params,
    nonce_cache::clock::time_point now) {
    const auto auth = parse_v3_authorization(req[beast::http::field::authorization]);
    if (!auth) return gateway::incomplete_signature();
    for (const auto* must :
         {"x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"}) {
        if (std::find(auth->signed_headers.begin(), auth->signed_headers.end(), must) ==
                auth->signed_headers.end() ||
            req[must].empty())
            return gateway::incomplete_signature();
    }
    const auto table = keys();
    const auto key = table->find(auth->credential);
    if (key == table->end()) return gateway::unknown_access_key();

    std::vector<std::string> lines;
    lines.reserve(auth->signed_headers.size());
    for (const auto& name : auth->signed_headers) {
        std::vector<std::string> values;
        for (auto [it, end] = req.equal_range(name); it != end; ++it)
            values.push_back(boost::algorithm::trim_copy(std::string{it->value()}));
        std::sort(values.begin(), values.end());
        std::string line = boost::algorithm::to_lower_copy(name) + ":";
        for (std::size_t i = 0; i < values.size(); ++i) line += (i ? "," : "") + values[i];
        lines.push_back(std::move(line));
    }
    const auto canonical =
        v3_canonical_request(req.method_string(), path, views_of(params.query), lines,
                             auth->signed_headers_text, kit::to_hex(kit::sha256(req.body())));
    if (!kit::constant_time_equal(key->second.sign(true, canonical),
                                  boost::algorithm::to_lower_copy(auth->signature)))
        return gateway::signature_mismatch();
    if (auto fresh =
            check_fresh(auth->credential, req["x-acs-date"], req["x-acs-signature-nonce"], now);
        !fresh)
        return fresh.error();
    return caller{auth->credential, true, key->second.entry.qps};
}

}  // namespace rrpcd::http
