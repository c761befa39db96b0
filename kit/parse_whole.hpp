#pragma once

#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

namespace rrpcd::kit {

/// `s` as a number of type T when all of it is one (std::from_chars; no sign, space or suffix
/// beyond what from_chars takes), else nullopt. For untrusted text: ids in topics, parameters.
template <class T>
std::optional<T> parse_whole(std::string_view s) noexcept {
    T v{};
    const auto* end = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(s.data(), end, v);
    if (s.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
    return v;
}

}  // namespace rrpcd::kit
