#include "uplink/consumer_login.hpp"

#include "kit/base64.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace rrpcd::uplink {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
    return std::ranges::equal(a, b, [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
    });
}

bool all_digits(std::string_view s) noexcept {
    return !s.empty() && std::ranges::all_of(s, [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

boost::system::result<consumer_login, std::string> parse_consumer_login(std::string_view user) {
    using result = boost::system::result<consumer_login, std::string>;
    const auto fail = [](std::string why) { return result{boost::system::in_place_error, why}; };
    if (user.size() > 2048) return fail("the user name is longer than 2048 bytes");
    const auto bar = user.find('|');
    if (bar == std::string_view::npos || user.size() < bar + 2 || user.back() != '|')
        return fail("not clientId|key=value,…|");
    consumer_login out;
    out.client_id = std::string{user.substr(0, bar)};
    if (out.client_id.empty() || out.client_id.size() > 64)
        return fail("clientId must be 1-64 characters");
    auto pairs = user.substr(bar + 1, user.size() - bar - 2);
    if (pairs.find('|') != std::string_view::npos) return fail("more than two '|'");
    // Each pair the platform defines, at most once.
    std::array<bool, 7> seen{};
    static constexpr std::array<std::string_view, 7> names{
        "authMode",      "signMethod",      "timestamp",    "authId",
        "iotInstanceId", "consumerGroupId", "securityToken"};
    std::string_view mode, method;
    while (!pairs.empty()) {
        const auto comma = pairs.find(',');
        const auto pair = pairs.substr(0, comma);
        pairs = comma == std::string_view::npos ? std::string_view{} : pairs.substr(comma + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos)
            return fail("a pair without '=': " + std::string{pair.substr(0, 64)});
        const auto key = pair.substr(0, eq);
        const auto value = pair.substr(eq + 1);
        const auto at = std::ranges::find(names, key);
        if (at == names.end()) continue;  // not the platform's: ignored
        const auto i = static_cast<std::size_t>(at - names.begin());
        if (seen[i]) return fail(std::string{key} + " given twice");
        seen[i] = true;
        switch (i) {
            case 0: mode = value; break;
            case 1: method = value; break;
            case 2: out.timestamp = std::string{value}; break;
            case 3: out.auth_id = std::string{value}; break;
            case 4: out.instance_id = std::string{value}; break;
            case 5: out.group = std::string{value}; break;
            default: out.security_token = std::string{value}; break;
        }
    }
    if (iequals(mode, "aksign"))
        out.sts = false;
    else if (iequals(mode, "ststoken"))
        out.sts = true;
    else
        return fail("authMode must be aksign or ststoken");
    if (iequals(method, "hmacsha1"))
        out.sign_method = kit::hmac_algorithm::sha1;
    else if (iequals(method, "hmacsha256"))
        out.sign_method = kit::hmac_algorithm::sha256;
    else if (iequals(method, "hmacmd5"))
        out.sign_method = kit::hmac_algorithm::md5;
    else
        return fail("signMethod must be hmacmd5, hmacsha1 or hmacsha256");
    if (!all_digits(out.timestamp) || out.timestamp.size() > 20)
        return fail("timestamp must be a number (milliseconds)");
    if (out.auth_id.empty()) return fail("no authId (the AccessKeyId)");
    if (out.group.empty()) return fail("no consumerGroupId");
    if (out.sts && out.security_token.empty()) return fail("ststoken without securityToken");
    return out;
}

std::string string_to_sign(const consumer_login& login) {
    std::string s = "authId=" + login.auth_id;
    if (login.sts) s += "&securityToken=" + login.security_token;
    s += "&timestamp=" + login.timestamp;
    return s;
}

std::string expected_password(const consumer_login& login, std::string_view secret) {
    return kit::base64_encode(kit::hmac(login.sign_method, secret, string_to_sign(login)));
}

bool password_matches(std::string_view password, std::string_view signed_by_key) {
    return kit::constant_time_equal(password, kit::base64_encode(signed_by_key));
}

}  // namespace rrpcd::uplink
