#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rrpcd::kit {

/// Appends `v` as `bytes` big-endian bytes (its low bytes: the caller bounds it).
inline void put_number(std::string& out, std::uint64_t v, std::size_t bytes) {
    for (std::size_t i = bytes; i-- > 0;) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

/// Appends `s` after its length in `length_bytes` big-endian bytes; `s` must fit that length.
inline void put_text(std::string& out, std::string_view s, std::size_t length_bytes) {
    put_number(out, s.size(), length_bytes);
    out += s;
}

/// Reads what put_number() and put_text() wrote, front to back; every read checks what is left
/// and, past the end, clears `ok` and yields zero or empty.
struct byte_reader {
    std::string_view in;
    bool ok = true;

    std::uint64_t number(std::size_t bytes) {
        if (!ok || in.size() < bytes) {
            ok = false;
            return 0;
        }
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < bytes; ++i) v = (v << 8) | static_cast<std::uint8_t>(in[i]);
        in.remove_prefix(bytes);
        return v;
    }
    std::string text(std::size_t length_bytes) {
        const auto n = number(length_bytes);
        if (!ok || in.size() < n) {
            ok = false;
            return {};
        }
        std::string s{in.substr(0, static_cast<std::size_t>(n))};
        in.remove_prefix(static_cast<std::size_t>(n));
        return s;
    }
};

}  // namespace rrpcd::kit
