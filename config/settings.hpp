#pragma once

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rrpcd::config {

/// A listen address. Port 0 asks the system for a free port (tests use it).
struct endpoint {
    std::string host;
    std::uint16_t port = 0;
};

struct mqtt_settings {
    endpoint listen{"127.0.0.1", 1883};
    std::chrono::seconds keep_alive_min{30};  ///< the platform accepts 30..1200 s
    std::chrono::seconds keep_alive_max{1200};
    std::chrono::milliseconds connect_timeout{10'000};  ///< from accept to CONNECT
    std::size_t max_packet_size = 256 * 1024;           ///< bytes, whole frame; the cloud's limit
    std::size_t max_outbound_bytes = 4 * 1024 * 1024;   ///< per session; a slower reader is dropped
};

struct http_settings {
    endpoint listen{"127.0.0.1", 8080};
    std::size_t max_header_bytes =
        2 * 1024 * 1024;  ///< request line + headers (a 100 KB payload makes a 140 KB URL)
    std::size_t max_body_bytes = 2 * 1024 * 1024;
    std::chrono::seconds idle_timeout{60};       ///< keep-alive connections with no request
    std::chrono::seconds signature_window{900};  ///< Timestamp skew and nonce memory (+-15 min)
    std::chrono::milliseconds shutdown_grace{
        5000};  ///< SIGTERM: how long in-flight calls may finish
};

struct rrpc_settings {
    std::chrono::milliseconds timeout_min{1000};  ///< the cloud's Timeout range
    std::chrono::milliseconds timeout_max{8000};
    std::uint32_t node_id = 0;  ///< 0..31, part of every MessageId
};

/// Calls per second an access key may make, per action (0 = unlimited); the cloud's defaults.
struct qps_limits {
    std::uint32_t rrpc = 1000;
    std::uint32_t async_rrpc = 1000;
    std::uint32_t invoke_thing_service = 500;
};

struct access_key {
    std::string id;
    std::string secret;
    qps_limits qps;
};

/// A product and its thing model (Alibaba TSL JSON documents, read at load).
struct product {
    std::string product_key;
    std::vector<std::string> tsl_json;  ///< one document per module
};

struct thing_settings {
    std::chrono::milliseconds sync_timeout{8000};  ///< InvokeThingService with callType sync
};

/// A backend URL that receives every async reply as a signed POST.
struct webhook {
    std::string url;     ///< http://host:port/path
    std::string secret;  ///< HMAC-SHA256 key of the X-Rrpcd-Signature header
};

/// Where async replies go and how long call outcomes are kept.
struct replies_settings {
    std::chrono::seconds retention{3600};  ///< outcomes kept for lookup
    std::size_t max_records = 100'000;     ///< and at most this many
    std::size_t max_queued =
        10'000;  ///< per webhook / stream subscriber before the oldest is dropped
    std::vector<webhook> webhooks;
};

struct device {
    std::string product_key;
    std::string device_name;
    std::string device_secret;
};

/// Everything rrpcd is configured with. Plain data; `load_*` fill and validate it.
struct settings {
    mqtt_settings mqtt;
    http_settings http;
    rrpc_settings rrpc;
    std::string log_level = "info";  ///< trace, debug, info, warn, error, critical, off
    thing_settings thing;
    replies_settings replies;
    std::vector<access_key> access_keys;
    std::vector<product> products;
    std::vector<device> devices;
    bool demo = false;  ///< true for the embedded default (demo credentials, printed at start)
};

/// A configuration error, ready to print: `file:line:column: key: what is wrong`.
struct load_error {
    std::string message;
};

/// Lets `result<T, load_error>::value()` throw; rrpcd itself reads results without it.
[[noreturn]] void throw_exception_from_error(const load_error& e,
                                             const boost::source_location& loc);

/// Reads and validates a TOML file. Unknown keys, missing fields, wrong types and bad values
/// are errors naming the file, the key and its line.
boost::system::result<settings, load_error> load_file(const std::filesystem::path& path);

/// Parses and validates TOML text; `source` names it in errors, and relative file names (thing
/// models) are read from `base_dir`.
boost::system::result<settings, load_error> load_string(
    std::string_view toml, std::string_view source, const std::filesystem::path& base_dir = ".");

/// The embedded default: loopback listeners, a demo product, device and access key.
settings embedded_default();

/// The TOML text of the embedded default (printed by `rrpcd --print-default-config`).
std::string_view embedded_default_toml() noexcept;

}  // namespace rrpcd::config
