#pragma once

#include "config/settings.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace rrpcd::console {

using role = config::console_user::role_kind;

/// Who signed in: an access key (full power, as with the SDKs), or a console user of
/// `[[console.users]]` with its role.
struct signed_in_as {
    std::string access_key_id;  ///< "" for a console user
    std::string user;           ///< "" for an access key
    console::role role = console::role::operator_;
};

/// What a role may run through the console's `action` endpoint: an operator every action; a
/// viewer the read-only ones whose answers carry no secret.
bool may_run(role r, std::string_view action) noexcept;

/// One signed-in console session: who, its CSRF token, when it ends.
struct session {
    std::string access_key_id;  ///< "" for a console user
    std::string user;           ///< "" for an access key
    console::role role = console::role::operator_;
    std::string csrf;  ///< sent back in `X-CSRF-Token` on every state-changing request
    std::chrono::steady_clock::time_point expires;
    std::int64_t expires_ms = 0;  ///< the same, in Unix ms (for the page)
};

/// The signed-in sessions, by the hash of their cookie's token (a lookup never compares the
/// token itself). Each lasts `console.session_ttl_s` from its sign-in; at
/// `console.max_sessions` the oldest ends for a new one. io thread only.
class session_table {
public:
    using clock = std::chrono::steady_clock;

    /// `settings`: the current snapshot of whoever owns the table (read at each use).
    explicit session_table(const config::settings_ptr& settings) : settings_(settings) {}

    struct opened {
        std::string token;  ///< the cookie's value: 32 random bytes, hex
        const session& s;
    };
    opened open(signed_in_as who, clock::time_point now, std::int64_t now_ms);
    /// The live session of `token`; an expired one is forgotten here.
    const session* find(std::string_view token, clock::time_point now);
    /// Ends a session (sign-out); false when there was none.
    bool close(std::string_view token);
    std::size_t size() const noexcept { return sessions_.size(); }

private:
    const config::settings_ptr& settings_;
    std::map<std::string, session, std::less<>> sessions_;  ///< by SHA-256 of the token
    std::deque<std::string> order_;                         ///< hashes, oldest first
};

/// The value of cookie `name` in a `Cookie` header (RFC 6265 §5.4: `a=b; c=d`), or nullopt.
std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name);

/// The console's cookie name.
inline constexpr std::string_view cookie_name = "rrpcd_console";

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Strict, Path=/console, Max-Age; Secure
/// over TLS.
std::string session_cookie(std::string_view token, std::chrono::seconds max_age, bool secure);
/// `Set-Cookie` that ends it in the browser.
std::string cleared_cookie(bool secure);

/// True when `header` is the session's CSRF token (constant time).
bool csrf_matches(const session& s, std::string_view header) noexcept;

}  // namespace rrpcd::console
