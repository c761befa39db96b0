#include "server/metrics.hpp"

#include <fmt/format.h>

#include <iterator>

namespace rrpcd::server {

std::string render_metrics(const metrics_snapshot& m) {
    std::string out;
    auto to = std::back_inserter(out);
    const auto family = [&](const char* name, const char* type, const char* help) {
        fmt::format_to(to, "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    };
    family("rrpcd_limit_hits_total", "counter",
           "Times a configured limit refused or ended something.");
    for (std::size_t i = 0; i < kit::limit_kinds; ++i)
        fmt::format_to(to, "rrpcd_limit_hits_total{{limit=\"{}\"}} {}\n",
                       kit::name_of(static_cast<kit::limit>(i)), m.limit_hits[i]);
    const auto gauge = [&](const char* name, const char* help, std::size_t value) {
        family(name, "gauge", help);
        fmt::format_to(to, "{} {}\n", name, value);
    };
    gauge("rrpcd_mqtt_connections", "Open MQTT connections.", m.mqtt_connections);
    gauge("rrpcd_http_connections", "Open HTTP connections.", m.http_connections);
    gauge("rrpcd_devices_online", "Devices with a live session.", m.devices_online);
    gauge("rrpcd_calls_pending", "Calls waiting for a device's reply.", m.calls_pending);
    gauge("rrpcd_login_backoff_entries",
          "Source address and username pairs with failed logins on record.",
          m.login_backoff_entries);
    gauge("rrpcd_nonces", "Signature nonces remembered for the replay window.", m.nonces);
    gauge("rrpcd_sessions_kept", "clean=0 sessions kept (their devices online or away).",
          m.sessions_kept);
    const auto counter = [&](const char* name, const char* help, std::uint64_t value) {
        family(name, "counter", help);
        fmt::format_to(to, "{} {}\n", name, value);
    };
    counter("rrpcd_login_backoff_evicted_total",
            "Login back-off pairs forgotten to make room (mqtt.login_backoff_entries).",
            m.login_backoff_evicted);
    counter("rrpcd_nonces_forgotten_total",
            "Nonces forgotten before their window ended (http.max_nonces); each raised its own "
            "access key's floor.",
            m.nonces_forgotten);
    counter("rrpcd_sessions_expired_total",
            "clean=0 sessions forgotten after mqtt.session_expiry_s without a login.",
            m.sessions_expired);
    family("rrpcd_calls_total", "counter", "RRPC calls by outcome.");
    for (const auto& [code, n] : {std::pair{"SUCCESS", m.calls_success},
                                  {"TIMEOUT", m.calls_timeout},
                                  {"OFFLINE", m.calls_offline},
                                  {"HALFCONN", m.calls_halfconn}})
        fmt::format_to(to, "rrpcd_calls_total{{code=\"{}\"}} {}\n", code, n);
    counter("rrpcd_store_failed_writes_total",
            "Store transactions that failed; their callers were answered ServiceUnavailable.",
            m.store_failed_writes);
    return out;
}

}  // namespace rrpcd::server
