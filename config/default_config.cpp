#include "config/settings.hpp"

#include "config/names.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>

namespace rrpcd::config {
namespace {

// Loopback only, so the demo credentials below reach nobody but this machine's users.
constexpr std::string_view default_toml = R"toml(# rrpcd embedded default configuration (demo).
# Listens on loopback only. The credentials are public demo values: never expose them.

[mqtt]
listen = "127.0.0.1:1883"

[http]
listen = "127.0.0.1:8080"

[log]
level = "info"

[[access_keys]]
id = "LTAIrrpcdDemoKey"
secret = "rrpcdDemoAccessSecret"

[[products]]
product_key = "a1demo"
tsl = "models/a1demo.json"     # a sync service (Echo, answered over RRPC) and an async one

[[devices]]
product_key = "a1demo"
device_name = "dev1"
device_secret = "rrpcdDemoDeviceSecret"
)toml";

}  // namespace

std::string_view defaults_toml() noexcept {
    // Every key of every table at its default (a unit test loads it and compares it with a
    // default-constructed settings, so the two cannot drift apart). [tls] has none: without a
    // certificate it is off, and a [tls] table needs one.
    return R"([server]
threads = 0

[mqtt]
listen = "127.0.0.1:1883"
tls_listen = ""
keepalive_min_s = 30
keepalive_max_s = 1200
connect_timeout_ms = 10000
max_packet_bytes = 262144
max_outbound_bytes = 4194304
max_connections = 100000
max_connections_per_address = 1000
login_backoff_after = 5
login_backoff_max_s = 300
login_backoff_entries = 100000
max_queued_messages = 1000
max_inflight_messages = 16
max_subscriptions = 1000
max_subscription_bytes = 65536
queue_settle_ms = 1000
session_expiry_s = 604800

[http]
listen = "127.0.0.1:8080"
tls_listen = ""
max_header_bytes = 2097152
max_body_bytes = 2097152
idle_timeout_s = 60
header_timeout_ms = 10000
request_timeout_ms = 30000
max_connections = 10000
max_connections_per_address = 1000
signature_window_s = 900
max_nonces = 1000000
shutdown_grace_ms = 5000

[store]
path = "data/rrpcd.db"
max_queue_bytes = 67108864

[replies]
retention_s = 3600
max_records = 100000
max_record_bytes = 67108864
max_async_calls = 100000
max_async_bytes = 268435456
max_queued = 10000
max_queued_bytes = 16777216
webhook_retry_s = 3600

[rrpc]
timeout_min_ms = 1000
timeout_max_ms = 8000
node_id = 0
max_pending_per_device = 64

[thing]
sync_timeout_ms = 8000

[log]
level = "info"
format = "logfmt"
access = true

[console]
enabled = true
session_ttl_s = 28800
max_sessions = 1000

[cluster]
redis = ""
password = ""
lease_ms = 6000
op_timeout_ms = 1000
)";
}

std::string_view embedded_default_toml() noexcept {
    return default_toml;
}

boost::system::result<settings, load_error> embedded_default(
    const std::vector<override_value>& overrides) {
    // models/a1demo.json, embedded at build time (demo_model.cpp): the file in the repository
    // is what runs, and `--print-default-config > rrpcd.toml` in the repository runs the same.
    auto loaded = load_string(default_toml, "<embedded default>", ".", overrides,
                              {{"models/a1demo.json", demo_model_json()}});
    if (!loaded) return loaded;  // without overrides it loads: the unit tests say so
    loaded->demo = true;
    return loaded;
}

namespace {
bool on_loopback(const endpoint& e) {
    return is_loopback_host(e.host);
}
}  // namespace

std::optional<std::string> plain_console_warning(const settings& s) {
    if (!s.console.enabled || !s.http.listen || on_loopback(*s.http.listen)) return std::nullopt;
    return "the console is served on the plain HTTP listener " + s.http.listen->host + ":" +
           std::to_string(s.http.listen->port) +
           ", beyond loopback: its sign-in carries a password or an access key secret in clear; "
           "serve it over "
           "https (http.tls_listen) and keep http.listen on 127.0.0.1, or set console.enabled = "
           "false";
}

std::optional<std::string> public_credential_problem(const settings& s) {
    // The demo's and the image example's (older images shipped the change-me ones).
    static constexpr std::array<std::string_view, 4> published{
        "rrpcdDemoAccessSecret", "rrpcdDemoDeviceSecret", "change-me-access-secret",
        "change-me-device-secret"};
    const auto is_published = [](std::string_view secret) {
        return std::ranges::find(published, secret) != published.end();
    };
    std::optional<std::string> exposed;
    for (const auto* l : {&s.mqtt.listen, &s.mqtt.tls_listen, &s.http.listen, &s.http.tls_listen,
                          &s.amqp.tls_listen})
        if (*l && !on_loopback(**l)) exposed = (*l)->host + ":" + std::to_string((*l)->port);
    if (!exposed) return std::nullopt;
    for (const auto& k : s.access_keys)
        if (is_published(k.secret))
            return "access key " + k.id + " has a published demo secret and a listener is on " +
                   *exposed +
                   ": set its secret (RRPCD_ACCESS_KEYS__N__SECRET or _FILE), or listen " +
                   "on 127.0.0.1 only";
    for (const auto& d : s.devices)
        if (is_published(d.device_secret))
            return "device " + d.product_key + "/" + d.device_name +
                   " has a published demo secret and a listener is on " + *exposed +
                   ": set its device_secret, or listen on 127.0.0.1 only";
    return std::nullopt;
}

}  // namespace rrpcd::config
