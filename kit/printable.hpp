#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rrpcd::kit {

/// `s` made safe to put in a log line: at most `max` bytes, control characters and quotes
/// replaced by '?', so untrusted input (client ids, topics, actions) cannot forge log lines.
inline std::string printable(std::string_view s, std::size_t max = 128) {
    std::string out{s.substr(0, max)};
    for (auto& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F || c == '"') c = '?';
    if (s.size() > max) out += "...";
    return out;
}

}  // namespace rrpcd::kit
