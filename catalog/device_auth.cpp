#include "catalog/device_auth.hpp"

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/algorithm/string/split.hpp>
#include <boost/algorithm/string/trim.hpp>

#include <vector>

namespace rrpcd::catalog {

std::optional<client_id_parts> parse_client_id(std::string_view client_id) {
    const auto open = client_id.find('|');
    if (open == std::string_view::npos) return std::nullopt;
    const auto close = client_id.find('|', open + 1);
    if (close == std::string_view::npos) return std::nullopt;

    client_id_parts parts;
    parts.id = std::string{client_id.substr(0, open)};
    std::vector<std::string> fields;
    const std::string block{client_id.substr(open + 1, close - open - 1)};
    boost::algorithm::split(fields, block, [](char c) { return c == ','; });
    bool has_securemode = false;
    for (auto& field : fields) {
        const auto eq = field.find('=');
        if (eq == std::string::npos) continue;
        auto key = boost::algorithm::trim_copy(field.substr(0, eq));
        auto value = boost::algorithm::trim_copy(field.substr(eq + 1));
        if (key == "securemode") {
            parts.securemode = value;
            has_securemode = true;
        } else if (key == "signmethod") {
            boost::algorithm::to_lower(value);
            if (value == "hmacmd5")
                parts.signmethod = kit::hmac_algorithm::md5;
            else if (value == "hmacsha1")
                parts.signmethod = kit::hmac_algorithm::sha1;
            else if (value == "hmacsha256" || value == "sha256")
                parts.signmethod = kit::hmac_algorithm::sha256;
            else
                return std::nullopt;
        } else if (key == "timestamp") {
            parts.timestamp = value;
        } else if (key == "ext") {
            parts.ext = value == "1";
        } else if (key == "_ss") {
            parts.server_subscribe = value == "1";
        }
    }
    if (!has_securemode) return std::nullopt;
    return parts;
}

std::optional<device_key> parse_username(std::string_view username) {
    const auto amp = username.find('&');
    if (amp == std::string_view::npos || amp == 0 || amp + 1 == username.size())
        return std::nullopt;
    return device_key{std::string{username.substr(amp + 1)}, std::string{username.substr(0, amp)}};
}

std::string login_sign_content(const client_id_parts& parts, const device_key& device) {
    std::string content = "clientId" + parts.id + "deviceName" + device.device_name + "productKey" +
                          device.product_key;
    if (parts.timestamp) content += "timestamp" + *parts.timestamp;
    return content;
}

bool verify_login_password(const client_id_parts& parts, const device_key& device,
                           std::string_view device_secret, std::string_view password) {
    const auto content = login_sign_content(parts, device);
    const auto given = boost::algorithm::to_lower_copy(std::string{password});
    const auto matches = [&](kit::hmac_algorithm algorithm) {
        return kit::constant_time_equal(kit::to_hex(kit::hmac(algorithm, device_secret, content)),
                                        given);
    };
    return matches(parts.signmethod) ||
           (parts.signmethod != kit::hmac_algorithm::sha1 && matches(kit::hmac_algorithm::sha1));
}

}  // namespace rrpcd::catalog
