#pragma once

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace rrpcd::config {

/// A listen address. Port 0 asks the system for a free port (tests use it).
struct endpoint {
    std::string host;
    std::uint16_t port = 0;
    bool operator==(const endpoint&) const = default;
};

/// The server certificate of both TLS listeners (PEM files, read at start and on SIGHUP).
struct tls_settings {
    std::filesystem::path cert_file;  ///< the certificate, then its chain
    std::filesystem::path key_file;   ///< the private key (unencrypted PEM)
    bool tls13_only = false;          ///< `min_version = "1.3"`; TLS 1.2 is the floor either way

    bool configured() const noexcept { return !cert_file.empty(); }
    bool operator==(const tls_settings&) const = default;
};

/// Where a login failure back-off starts and how far it goes (per source address).
struct login_backoff_settings {
    std::uint32_t failures = 5;           ///< consecutive failed logins before the back-off
    std::chrono::seconds max_delay{300};  ///< it doubles from 1 s up to this
    std::size_t max_entries = 100'000;    ///< (address, username) pairs tracked; sized at start
    bool operator==(const login_backoff_settings&) const = default;
};

struct mqtt_settings {
    std::optional<endpoint> listen = endpoint{"127.0.0.1", 1883};  ///< plain MQTT; off when empty
    std::optional<endpoint> tls_listen;       ///< MQTT over TLS (securemode=2 devices, port 8883)
    std::chrono::seconds keep_alive_min{30};  ///< the platform accepts 30..1200 s
    std::chrono::seconds keep_alive_max{1200};
    std::chrono::milliseconds connect_timeout{10'000};  ///< from accept to CONNECT
    std::size_t max_packet_size = 256 * 1024;           ///< bytes, whole frame; the cloud's limit
    std::size_t max_outbound_bytes = 4 * 1024 * 1024;   ///< per session; a slower reader is dropped
    std::size_t max_connections = 100'000;              ///< both MQTT listeners together
    std::size_t max_connections_per_address = 1000;     ///< raise it behind carrier-grade NAT
    std::size_t max_queued_messages = 1000;  ///< QoS 1 messages kept per device; more are refused
    std::size_t max_inflight_messages = 16;  ///< QoS 1 messages sent and not yet acknowledged
    /// After a resumed (clean=0) or `_ss=1` login, queued messages wait until the device has
    /// sent no SUBSCRIBE or UNSUBSCRIBE for this long (its SDK has set up its handlers), or
    /// until it subscribes a filter that matches them; at most 10 times this after CONNACK.
    std::chrono::milliseconds queue_settle{1000};
    std::size_t max_subscriptions = 1000;             ///< filters one session may hold
    std::size_t max_subscription_bytes = 64 * 1024;   ///< their bytes in all, per session
    std::chrono::seconds session_expiry{7 * 86'400};  ///< a clean=0 session kept without a login
    login_backoff_settings login_backoff;
    bool operator==(const mqtt_settings&) const = default;
};

struct http_settings {
    std::optional<endpoint> listen = endpoint{"127.0.0.1", 8080};  ///< plain HTTP; off when empty
    std::optional<endpoint> tls_listen;                            ///< HTTPS
    std::size_t max_header_bytes =
        2 * 1024 * 1024;  ///< request line + headers (a 100 KB payload makes a 140 KB URL)
    std::size_t max_body_bytes = 2 * 1024 * 1024;
    std::chrono::seconds idle_timeout{60};              ///< keep-alive connections with no request
    std::chrono::milliseconds header_timeout{10'000};   ///< first byte to the end of the header
    std::chrono::milliseconds request_timeout{30'000};  ///< first byte to the end of the body
    std::size_t max_connections = 10'000;               ///< both HTTP listeners together
    std::size_t max_connections_per_address = 1000;
    std::chrono::seconds signature_window{900};  ///< Timestamp skew and nonce memory (+-15 min)
    std::size_t max_nonces = 1'000'000;  ///< remembered nonces; past it the earliest signed goes
    std::chrono::milliseconds shutdown_grace{
        5000};  ///< SIGTERM: how long in-flight calls may finish
    bool operator==(const http_settings&) const = default;
};

/// The embedded store (SQLite) of accepted QoS 1 messages.
struct store_settings {
    /// The database file; relative paths are relative to the config file's directory (the
    /// working directory for the embedded default). Empty: memory only, nothing survives a
    /// restart.
    std::filesystem::path path = "data/rrpcd.db";
    /// What waits for the store's writer, in bytes of records; past it, what an outsider asks
    /// to keep (a QoS 1 message, an async call, a clean=0 subscription) is refused.
    std::size_t max_queue_bytes = 64u << 20;
    bool operator==(const store_settings&) const = default;
};

struct server_settings {
    /// Device planes, and io threads to run them: 0 (the default) is one per core the process
    /// may use, at most 16 (the MessageId's shard bits); 1 is one thread for everything.
    std::size_t threads = 0;
    bool operator==(const server_settings&) const = default;
};

struct rrpc_settings {
    std::chrono::milliseconds timeout_min{1000};  ///< the cloud's Timeout range
    std::chrono::milliseconds timeout_max{8000};
    std::uint32_t node_id = 0;                ///< 0..31, part of every MessageId
    std::size_t max_pending_per_device = 64;  ///< calls waiting for one device's reply
    bool operator==(const rrpc_settings&) const = default;
};

/// Calls per second an access key may make, per action (0 = unlimited); the cloud's defaults.
struct qps_limits {
    std::uint32_t rrpc = 1000;
    std::uint32_t async_rrpc = 1000;
    std::uint32_t invoke_thing_service = 500;
    bool operator==(const qps_limits&) const = default;
};

struct access_key {
    std::string id;
    std::string secret;
    qps_limits qps{};
    bool operator==(const access_key&) const = default;
};

/// A product and its thing model (Alibaba TSL JSON documents, read at load).
struct product {
    std::string product_key;
    std::vector<std::string> tsl_json;  ///< one document per module
    bool operator==(const product&) const = default;
};

struct thing_settings {
    std::chrono::milliseconds sync_timeout{8000};  ///< InvokeThingService with callType sync
    bool operator==(const thing_settings&) const = default;
};

/// A backend URL that receives every async reply as a signed POST.
struct webhook {
    std::string url;                  ///< http://host:port/path or https://…
    std::string secret;               ///< HMAC-SHA256 key of the X-Rrpcd-Signature header
    std::filesystem::path ca_file{};  ///< https: trust these CAs (PEM) instead of the system's
    /// What its queue in the store is kept under; empty: a digest of its URL and secret (the
    /// same URL with two secrets is two webhooks). Set it to keep a queue across a change of
    /// URL or secret.
    std::string id{};
    std::size_t max_in_flight = 4;  ///< POSTs at once, each on a keep-alive connection of its own
    /// What it receives: the uplink's kinds (reply, property, event, custom, status); the async
    /// answers (`reply`) unless set.
    std::vector<std::string> kinds{"reply"};
    std::vector<std::string> products{};  ///< ProductKeys; empty: every product
    bool operator==(const webhook&) const = default;
};

/// What a webhook's queue is kept under in the store: its `id`, or 16 hex digits of SHA-256 of
/// its URL and secret.
std::string identity_of(const webhook& hook);

/// Where async replies go and how long call outcomes are kept.
struct replies_settings {
    std::chrono::seconds retention{3600};      ///< outcomes kept for lookup
    std::size_t max_records = 100'000;         ///< ended calls kept in memory for lookup (a cache)
    std::size_t max_record_bytes = 64u << 20;  ///< their bytes
    /// Async calls an access key may have waiting for their answer, and their bytes; one more
    /// is refused (an answered one no longer counts: its outcome is in the store).
    std::size_t max_async_calls = 100'000;
    std::size_t max_async_bytes = 256u << 20;
    std::size_t max_queued =
        10'000;  ///< per webhook / stream subscriber before the oldest is dropped
    std::size_t max_queued_bytes =
        16u << 20;  ///< the same, in bytes of rendered replies (shared between streams)
    std::vector<webhook> webhooks;
    /// A webhook keeps retrying a reply (back-off from 250 ms doubling to 30 s) this long after
    /// it was queued, then gives it up (logged at warn, counted).
    std::chrono::seconds webhook_retry{3600};
    bool operator==(const replies_settings&) const = default;
};

/// Who may read the metrics besides access keys.
struct metrics_settings {
    std::string token;  ///< `Authorization: Bearer <token>` for `GET /metrics`; "" none
    bool operator==(const metrics_settings&) const = default;
};

/// A person who signs in to the console with a name and a password (never an access key).
struct console_user {
    enum class role_kind : std::uint8_t {
        viewer,    ///< reads every page and runs the read-only actions
        operator_  ///< also calls devices and changes the catalog
    };
    std::string name;           ///< 1-64 letters, digits, `.`, `_`, `-`, `@`
    std::string password_hash;  ///< `rrpcd hash-password`'s output (scrypt, PHC string)
    role_kind role = role_kind::viewer;
    bool operator==(const console_user&) const = default;
};

/// The web console (`/console/` on the HTTP listeners).
struct console_settings {
    bool enabled = true;
    std::vector<console_user> users;             ///< `[[console.users]]`
    std::chrono::seconds session_ttl{8 * 3600};  ///< a sign-in lasts this long, then ends
    std::size_t max_sessions = 1000;  ///< signed-in sessions kept; past it the oldest ends
    bool operator==(const console_settings&) const = default;
};

/// A consumer group of the server-side subscription (`[[amqp.groups]]`): what it receives, and
/// the bounds of its backlog.
struct amqp_group {
    std::string id;                        ///< consumerGroupId: 1-64 letters, digits, `_`, `-`
    std::vector<std::string> kinds{};      ///< reply, property, event, custom, status; empty: all
    std::vector<std::string> products{};   ///< ProductKeys; empty: all
    std::size_t max_bytes = 256u << 20;    ///< its backlog; more is refused (counted)
    std::chrono::seconds max_age{86'400};  ///< then expired (counted); the platform keeps a day
    bool operator==(const amqp_group&) const = default;
};

/// The server-side subscription's AMQP 1.0 listener (Alibaba's consumers connect unchanged).
struct amqp_settings {
    std::optional<endpoint> listen;      ///< plain AMQP: loopback only (tests, a local proxy)
    std::optional<endpoint> tls_listen;  ///< AMQP over TLS (the platform's port 5671)
    std::chrono::milliseconds idle_min{30'000}, idle_max{300'000};  ///< the Open's idle-time-out
    std::chrono::milliseconds receiver_timeout{15'000};  ///< from accept to a receiver link
    std::chrono::milliseconds ack_timeout{30'000};  ///< unsettled this long: to another consumer
    std::size_t max_connections = 1024;             ///< both listeners together
    std::size_t max_connections_per_client = 128;   ///< per clientId, as the platform allows
    /// `DEFAULT_GROUP` (every kind of every product) unless a group of that id is configured.
    std::vector<amqp_group> groups;
    bool enabled() const noexcept { return listen || tls_listen; }
    bool operator==(const amqp_settings&) const = default;
};

/// Cluster mode (`[cluster]`): nodes share one Redis. Without `redis`: one node, no Redis on any
/// path.
struct cluster_settings {
    std::string redis;  ///< `redis://[:password@]host[:port]` or `unix:///path`, as written
    std::string host;   ///< of `redis` (empty with a Unix socket)
    std::uint16_t port = 6379;
    std::string unix_path;
    std::string password;                   ///< AUTH (`password`, `password_file`, or the URL's)
    std::optional<std::uint32_t> node_id;   ///< 0..31; absent: the remembered or lowest free slot
    std::chrono::milliseconds lease{6000};  ///< a node's slot lapses this long after its renewal
    std::chrono::milliseconds op_timeout{1000};  ///< a Redis command not answered by then failed
    bool enabled() const noexcept { return !redis.empty(); }
    bool operator==(const cluster_settings&) const = default;
};

struct device {
    std::string product_key;
    std::string device_name;
    std::string device_secret;
    bool operator==(const device&) const = default;
};

/// Everything rrpcd is configured with. Plain data; `load_*` fill and validate it.
struct settings {
    server_settings server;
    mqtt_settings mqtt;
    http_settings http;
    tls_settings tls;
    store_settings store;
    rrpc_settings rrpc;
    std::string log_level = "info";     ///< trace, debug, info, warn, error, critical, off
    std::string log_format = "logfmt";  ///< "logfmt" or "json" (one object per line)
    bool log_access = true;             ///< an access line per API call, at info
    thing_settings thing;
    replies_settings replies;
    metrics_settings metrics;
    console_settings console;
    amqp_settings amqp;
    cluster_settings cluster;
    std::vector<access_key> access_keys;
    std::vector<product> products;
    std::vector<device> devices;
    bool demo = false;  ///< true for the embedded default (demo credentials, printed at start)
};

/// How many device planes (and io threads) the settings ask for on a machine of `cores`:
/// `server.threads`, or one per core (at most 16) when it is 0.
std::size_t planes_of(const settings& s, unsigned cores) noexcept;

/// A configuration error, ready to print: `file:line:column: key: what is wrong`.
struct load_error {
    std::string message;
};

/// Lets `result<T, load_error>::value()` throw; rrpcd itself reads results without it.
[[noreturn]] void throw_exception_from_error(const load_error& e,
                                             const boost::source_location& loc);

/// A setting given outside the file, which wins over it: `key` as a dotted path
/// (`mqtt.listen`, `access_keys.0.secret`, `replies.webhooks.0.url`), its value as text, and
/// where it came from (`environment RRPCD_MQTT__LISTEN`, `--set`), named in errors.
struct override_value {
    std::string key;
    std::string value;
    std::string origin;
};

/// Reads and validates a TOML file, then `overrides` in order. Unknown keys, missing fields,
/// wrong types and bad values are errors naming the file, the key and its line (or the
/// override's origin).
boost::system::result<settings, load_error> load_file(
    const std::filesystem::path& path, const std::vector<override_value>& overrides = {});

/// A config file's text: a regular file of at most 64 MiB (a FIFO or a device is refused before
/// it is opened), or why it cannot be read.
boost::system::result<std::string, std::string> read_config_text(const std::filesystem::path& path);

/// Files the configuration may name that are in the binary, not on disk: name -> content.
using embedded_files = std::vector<std::pair<std::string_view, std::string_view>>;

/// Parses and validates TOML text; `source` names it in errors, and relative file names (thing
/// models) are read from `base_dir`, or from `files` when named there.
boost::system::result<settings, load_error> load_string(
    std::string_view toml, std::string_view source, const std::filesystem::path& base_dir = ".",
    const std::vector<override_value>& overrides = {}, const embedded_files& files = {});

/// models/a1demo.json, the demo product's thing model, as the build embedded it.
std::string_view demo_model_json() noexcept;

/// The settings in the environment (`NAME=value` entries): `RRPCD_<SECTION>__<KEY>`, and for
/// arrays of tables `RRPCD_ACCESS_KEYS__0__SECRET`; `…_FILE` takes the value from that file
/// (trailing newlines cut). A variable that names a section with one underscore
/// (`RRPCD_MQTT_LISTEN`) is an error; other `RRPCD_` variables (RRPCD_CONFIG) are not settings.
/// Keys and values are checked when the overrides are applied.
boost::system::result<std::vector<override_value>, load_error> environment_overrides(
    std::span<const std::string> environment);

/// The document the settings are read from (the file with `overrides` applied) as TOML, every
/// secret, token and URL password masked: `rrpcd --print-config`.
boost::system::result<std::string, load_error> effective_toml(
    std::string_view toml, std::string_view source, const std::vector<override_value>& overrides);

/// The keys that differ between `now` and `next` and that only a restart applies (listen
/// addresses, node_id, the store, products, devices, `[replies]`…), as `table.key`.
std::vector<std::string> restart_keys(const settings& now, const settings& next);

/// A reload (SIGHUP): `now` takes every key of `next` that applies live (limits, timeouts,
/// access keys, the log level, the TLS files); the others keep their running values.
void apply_live(const settings& next, settings& now);

/// The embedded default: loopback listeners, a demo product, device and access key; then
/// `overrides`.
boost::system::result<settings, load_error> embedded_default(
    const std::vector<override_value>& overrides = {});

/// Why `s` must not serve: a listener on an address other than loopback with a credential
/// that is published (the demo's, the image example's). nullopt when it may.
std::optional<std::string> public_credential_problem(const settings& s);

/// A warning when the console is on a plain HTTP listener beyond loopback (its sign-in would
/// carry a secret in clear), else nullopt.
std::optional<std::string> plain_console_warning(const settings& s);

/// The TOML text of the embedded default (printed by `rrpcd --print-default-config`).
std::string_view embedded_default_toml() noexcept;
/// Every key at its default, as TOML (what --print-config shows for keys a file leaves out).
std::string_view defaults_toml() noexcept;

/// A snapshot of the settings: never changed once published. A reload publishes a new one;
/// each thread reads the snapshot it was given and never a value that another changes.
using settings_ptr = std::shared_ptr<const settings>;

}  // namespace rrpcd::config
