#include "kit/logfmt.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace rrpcd::kit {

std::string logfmt_value(std::string_view text, std::size_t max) {
    const auto cut = text.substr(0, max);
    const bool bare = !cut.empty() && std::ranges::none_of(cut, [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7F || c == '"' || c == '=' || c == '\\';
    });
    std::string out;
    if (!bare) out += '"';
    for (const char c : cut) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (u < 0x20 || u == 0x7F) {
                    char hex[5];
                    std::snprintf(hex, sizeof hex, "\\x%02X", u);
                    out += hex;
                } else {
                    out += c;
                }
        }
    }
    if (text.size() > max) out += "...";
    if (!bare) out += '"';
    return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_logfmt(
    std::string_view line) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t i = 0;
    const auto n = line.size();
    while (i < n) {
        while (i < n && line[i] == ' ') ++i;
        if (i == n) break;
        const auto key_start = i;
        while (i < n && line[i] != '=' && line[i] != ' ' && line[i] != '"') ++i;
        if (i == n || line[i] != '=' || i == key_start) return std::nullopt;
        std::string key{line.substr(key_start, i - key_start)};
        ++i;
        std::string value;
        if (i < n && line[i] == '"') {
            ++i;
            bool closed = false;
            while (i < n) {
                const char c = line[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c != '\\' || i == n) {
                    value += c;
                    continue;
                }
                const char e = line[i++];
                if (e == 'n')
                    value += '\n';
                else if (e == 'r')
                    value += '\r';
                else if (e == 't')
                    value += '\t';
                else if (e == 'x' && i + 2 <= n) {
                    value +=
                        static_cast<char>(std::stoi(std::string{line.substr(i, 2)}, nullptr, 16));
                    i += 2;
                } else
                    value += e;
            }
            if (!closed || (i < n && line[i] != ' ')) return std::nullopt;
        } else {
            const auto start = i;
            while (i < n && line[i] != ' ') ++i;
            value = line.substr(start, i - start);
        }
        out.emplace_back(std::move(key), std::move(value));
    }
    return out;
}

std::string redact_url(std::string_view text) {
    const auto parsed = boost::urls::parse_uri_reference(text);
    if (!parsed || !parsed->has_password()) return std::string{text};
    boost::urls::url u{*parsed};
    u.set_password("********");
    return std::string{u.buffer()};
}

}  // namespace rrpcd::kit
