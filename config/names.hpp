#pragma once

#include <algorithm>
#include <array>
#include <string_view>

namespace rrpcd::config {

namespace detail {
inline bool made_of(std::string_view s, std::string_view extra) {
    return std::all_of(s.begin(), s.end(), [extra](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               extra.find(c) != std::string_view::npos;
    });
}
}  // namespace detail

/// A ProductKey: 1-32 letters or digits.
inline bool is_valid_product_key(std::string_view s) {
    return !s.empty() && s.size() <= 32 && detail::made_of(s, "");
}

/// A DeviceName: 4-32 characters of `A-Z a-z 0-9 - _ @ . :` (the platform's rule).
inline bool is_valid_device_name(std::string_view s) {
    return s.size() >= 4 && s.size() <= 32 && detail::made_of(s, "-_@.:");
}

/// A console user's name: 1-64 letters, digits or `. _ - @`.
inline bool is_valid_console_user_name(std::string_view s) {
    return !s.empty() && s.size() <= 64 && detail::made_of(s, "._-@");
}

/// A thing model identifier (property, event, service): 1-50 letters, digits or `_` (the
/// platform's rule for TSL identifiers; also what a verification-free product is called with).
inline bool is_valid_identifier(std::string_view s) {
    return !s.empty() && s.size() <= 50 && detail::made_of(s, "_");
}

/// A consumer group id (consumerGroupId): 1-64 letters, digits, `_` or `-`.
inline bool is_valid_group_id(std::string_view s) {
    return !s.empty() && s.size() <= 64 && detail::made_of(s, "_-");
}

/// What the server-side subscription forwards, by the names `[[amqp.groups]] kinds` use
/// (uplink::kind follows this order).
inline constexpr std::array<std::string_view, 5> uplink_kinds{"reply", "property", "event",
                                                              "custom", "status"};
inline bool is_uplink_kind(std::string_view s) {
    return std::find(uplink_kinds.begin(), uplink_kinds.end(), s) != uplink_kinds.end();
}

/// A listen address on loopback (127.0.0.0/8 or ::1).
inline bool is_loopback_host(std::string_view host) {
    return host.starts_with("127.") || host == "::1";
}

}  // namespace rrpcd::config
