#include "catalog/login.hpp"

namespace rrpcd::catalog {

login_verdict login_policy::check(const mqtt::connect& c, const device_directory& devices,
                                  const boost::asio::ip::address& peer, clock::time_point now,
                                  const config::mqtt_settings& settings) {
    using code = mqtt::connect_return_code;
    const login_backoff::who who{peer, c.username.value_or("")};
    // Not even checked: a guesser learns nothing while the back-off lasts.
    if (backoff_.blocked(who, now)) return {code::server_unavailable, "backoff"};
    login_verdict v;
    const auto refuse = [&](code why, std::string_view reason) {
        backoff_.failed(who, now);
        v.code = why;
        v.reason = reason;
        v.device.reset();
        return v;
    };
    v.flags = parse_client_id(c.client_id);
    if (!v.flags) return refuse(code::identifier_rejected, "client_id_format");
    const auto device = c.username ? parse_username(*c.username) : std::nullopt;
    if (!device) return refuse(code::bad_username_or_password, "username_format");
    const auto record = devices.find(*device);
    if (record == nullptr) return refuse(code::bad_username_or_password, "unknown_device");
    if (!c.password || !verify_login_password(*v.flags, *device, record->secret, *c.password))
        return refuse(code::bad_username_or_password, "bad_password");
    if (record->disabled) return refuse(code::not_authorized, "disabled");
    const std::chrono::seconds keep_alive{c.keep_alive};
    if (keep_alive < settings.keep_alive_min || keep_alive > settings.keep_alive_max)
        return refuse(code::identifier_rejected, "keep_alive_out_of_range");
    backoff_.succeeded(who);
    v.device = *device;
    v.first_login = record->active_ms == 0;
    return v;
}

}  // namespace rrpcd::catalog
