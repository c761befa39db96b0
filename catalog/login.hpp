#pragma once

#include "catalog/device_auth.hpp"
#include "catalog/device_directory.hpp"
#include "catalog/login_backoff.hpp"
#include "config/settings.hpp"
#include "mqtt/packet.hpp"

#include <boost/asio/ip/address.hpp>

#include <array>
#include <chrono>
#include <optional>
#include <string_view>

namespace rrpcd::catalog {

/// Every reason a login is refused for (the metrics show each, from zero).
inline constexpr std::array<std::string_view, 7> login_refusal_reasons{
    "backoff",      "client_id_format", "username_format",        "unknown_device",
    "bad_password", "disabled",         "keep_alive_out_of_range"};

/// The outcome of one device login: the CONNACK code, why (a log word), and for an accepted
/// login the device, its client id's flags and whether this is its first login ever.
struct login_verdict {
    mqtt::connect_return_code code = mqtt::connect_return_code::accepted;
    /// `ok`, or the refusal's reason: `backoff`, `client_id_format`, `username_format`,
    /// `unknown_device`, `bad_password`, `disabled`, `keep_alive_out_of_range`.
    std::string_view reason = "ok";
    std::optional<device_key> device{};      ///< set when accepted
    std::optional<client_id_parts> flags{};  ///< the parsed client id (set when it parsed)
    bool first_login = false;                ///< accepted, and the device was UNACTIVE

    bool accepted() const noexcept { return code == mqtt::connect_return_code::accepted; }
};

/// The platform's device login rules in one call, with no sockets: back-off first (a blocked
/// guesser learns nothing, not even whether the device exists), then client id, user name,
/// the device's record, its password, disabled, and the keep-alive range. A failure counts
/// towards the back-off of (peer, username); a success clears it. Any thread (the back-off
/// and the directory are shared, and take their own locks).
class login_policy {
public:
    using clock = login_backoff::clock;

    explicit login_policy(login_backoff& backoff) : backoff_(backoff) {}

    /// Decides `c` from `peer` at `now` against `devices` (which it only reads), with the
    /// keep-alive range of `settings` (the caller's current snapshot).
    login_verdict check(const mqtt::connect& c, const device_directory& devices,
                        const boost::asio::ip::address& peer, clock::time_point now,
                        const config::mqtt_settings& settings);

private:
    login_backoff& backoff_;
};

}  // namespace rrpcd::catalog
