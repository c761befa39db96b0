#include "config/settings.hpp"
#include "kit/crypto.hpp"

#include <toml++/toml.h>
#include "config/names.hpp"
#include "kit/logfmt.hpp"
#include "kit/password.hpp"

#include <boost/url/parse.hpp>

#include <charconv>

#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

namespace rrpcd::config {
namespace {

/// Reads one TOML document into `settings`, stopping at the first error. Every error names the
/// source, the line and column of the offending node, and its dotted key.
class reader {
public:
    explicit reader(std::string source) : source_(std::move(source)) {}

    const std::optional<load_error>& error() const noexcept { return error_; }

    void fail(const toml::source_region& where, std::string_view key, std::string_view what) {
        if (error_) return;
        // A value from the environment or a flag has no place in the file: name its origin.
        if (where.begin.line == 0)
            if (const auto o = origins_.find(key); o != origins_.end()) {
                error_ = load_error{o->second + ": " + std::string{key} + ": " + std::string{what}};
                return;
            }
        error_ = load_error{source_ + ":" + std::to_string(where.begin.line) + ":" +
                            std::to_string(where.begin.column) + ": " + std::string{key} + ": " +
                            std::string{what}};
    }

    /// Says that the value at `key` (as errors name it: `access_keys[0].secret`) came from
    /// `origin`.
    void came_from(std::string key, std::string origin) {
        origins_.insert_or_assign(std::move(key), std::move(origin));
    }

    /// Refuses keys of `table` that are not in `known`.
    void only_keys(const toml::table& table, std::string_view path,
                   const std::vector<std::string_view>& known) {
        for (const auto& [key, node] : table) {
            if (std::find(known.begin(), known.end(), key.str()) == known.end())
                fail(key.source(), join(path, key.str()), "unknown key");
        }
    }

    const toml::table* table(const toml::table& parent, std::string_view key) {
        const auto* node = parent.get(key);
        if (node == nullptr) return nullptr;
        if (!node->is_table()) fail(node->source(), key, "expected a table");
        return node->as_table();
    }

    void string(const toml::table& t, std::string_view path, std::string_view key, std::string& out,
                bool required) {
        const auto* node = present(t, path, key, required);
        if (node == nullptr) return;
        if (const auto* v = node->as_string()) {
            out = v->get();
            if (out.empty()) fail(node->source(), join(path, key), "must not be empty");
        } else {
            fail(node->source(), join(path, key), "expected a string");
        }
    }

    template <class Int>
    void integer(const toml::table& t, std::string_view path, std::string_view key, Int& out,
                 std::int64_t min, std::int64_t max) {
        const auto* node = present(t, path, key, false);
        if (node == nullptr) return;
        const auto* v = node->as_integer();
        if (v == nullptr) return fail(node->source(), join(path, key), "expected an integer");
        if (v->get() < min || v->get() > max)
            return fail(node->source(), join(path, key),
                        "must be between " + std::to_string(min) + " and " + std::to_string(max));
        out = static_cast<Int>(v->get());
    }

    template <class Rep, class Period>
    void duration(const toml::table& t, std::string_view path, std::string_view key,
                  std::chrono::duration<Rep, Period>& out, std::int64_t min, std::int64_t max) {
        Rep count = out.count();
        integer(t, path, key, count, min, max);
        out = std::chrono::duration<Rep, Period>{count};
    }

    /// An `IP:port`, or "" for a listener that is off.
    void address(const toml::table& t, std::string_view path, std::string_view key,
                 std::optional<endpoint>& result) {
        const auto* node = present(t, path, key, false);
        if (node == nullptr) return;
        const auto* v = node->as_string();
        if (v != nullptr && v->get().empty()) {
            result.reset();
            return;
        }
        auto& out = result.emplace();
        const auto authority = v ? boost::urls::parse_authority(v->get())
                                 : boost::urls::result<boost::urls::authority_view>{};
        if (v == nullptr || !authority || !authority->has_port() || authority->has_userinfo() ||
            (authority->host_type() != boost::urls::host_type::ipv4 &&
             authority->host_type() != boost::urls::host_type::ipv6) ||
            authority->port().empty() ||
            (authority->port_number() == 0 && authority->port() != "0")) {
            return fail(
                node->source(), join(path, key),
                "expected an IP address and port, like \"127.0.0.1:1883\" or \"[::1]:1883\" "
                "(\"\" turns the listener off)");
        }
        out.host = authority->host_type() == boost::urls::host_type::ipv6
                       ? std::string{authority->host_ipv6_address().to_string()}
                       : std::string{authority->host_ipv4_address().to_string()};
        out.port = authority->port_number();
    }

    static std::string join(std::string_view path, std::string_view key) {
        return path.empty() ? std::string{key} : std::string{path} + "." + std::string{key};
    }

    /// The array of tables at `key`, or nullptr.
    const toml::array* tables(const toml::table& root, std::string_view key) {
        const auto* node = root.get(key);
        if (node == nullptr) return nullptr;
        const auto* arr = node->as_array();
        if (arr == nullptr || !arr->is_array_of_tables()) {
            fail(node->source(), key, "expected an array of tables ([[" + std::string{key} + "]])");
            return nullptr;
        }
        return arr;
    }

    const std::string& source() const noexcept { return source_; }

private:
    const toml::node* present(const toml::table& t, std::string_view path, std::string_view key,
                              bool required) {
        const auto* node = t.get(key);
        if (node == nullptr && required) fail(t.source(), join(path, key), "missing (required)");
        return node;
    }

    std::string source_;
    std::optional<load_error> error_;
    std::map<std::string, std::string, std::less<>> origins_;
};

/// A file's whole text, or why it is not read: only a regular file (a FIFO would block the
/// start, /dev/zero never end) of at most `max` bytes.
boost::system::result<std::string, std::string> read_text(const std::filesystem::path& path,
                                                          std::uintmax_t max) {
    using text_result = boost::system::result<std::string, std::string>;
    const auto refuse = [](std::string why) {
        return text_result{boost::system::in_place_error, std::move(why)};
    };
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec) return refuse("cannot read " + path.string() + ": " + ec.message());
    if (!std::filesystem::is_regular_file(status))
        return refuse(path.string() + " is not a regular file");
    const auto larger = path.string() + " is larger than " + std::to_string(max) + " bytes";
    if (const auto size = std::filesystem::file_size(path, ec); ec || size > max)
        return refuse(larger);
    std::ifstream in{path, std::ios::binary};
    if (!in) {
        const int why = errno;  // what open(2) said
        return refuse("cannot read " + path.string() + ": " + std::strerror(why) +
                      (why == EACCES
                           ? " (it must be readable by uid " + std::to_string(::geteuid()) +
                                 ", gid " + std::to_string(::getegid()) + ")"
                           : std::string{}));
    }
    std::string text(static_cast<std::size_t>(max) + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > max) return refuse(larger);  // it grew since: still bounded
    return text_result{boost::system::in_place_value, std::move(text)};
}

constexpr std::uintmax_t max_config_bytes = 64u << 20;  ///< a config file, a thing model
constexpr std::uintmax_t max_secret_bytes = 64u << 10;  ///< a `…_FILE` secret

/// When a reload (SIGHUP) applies a key: at once, or only after a restart.
enum class applies : std::uint8_t { live, restart };

/// One key of a table: its name, when it applies, how it is read (with its range), compared and
/// copied. The default is the settings member's initializer, written nowhere else.
struct key {
    std::string_view name;
    applies when;
    std::function<void(reader&, const toml::table&, std::string_view path, settings&)> read;
    std::function<bool(const settings&, const settings&)> same;
    std::function<void(const settings&, settings&)> copy;
    bool integer = false;  ///< its TOML value is an integer (else a string)
    bool boolean = false;  ///< its TOML value is true or false
};

/// A key whose member `get(settings)` returns, read by `read_value(r, t, path, name, member)`.
template <class Get, class Read>
key make_key(std::string_view name, applies when, Get get, Read read_value) {
    return {name, when,
            [=](reader& r, const toml::table& t, std::string_view path, settings& s) {
                read_value(r, t, path, name, get(s));
            },
            [=](const settings& a, const settings& b) { return get(a) == get(b); },
            [=](const settings& from, settings& to) { get(to) = get(from); }};
}

template <class Get>
key integer_key(std::string_view name, applies when, Get get, std::int64_t min, std::int64_t max) {
    auto made =
        make_key(name, when, get,
                 [=](reader& r, const toml::table& t, std::string_view path, std::string_view k,
                     auto& out) { r.integer(t, path, k, out, min, max); });
    made.integer = true;
    return made;
}

template <class Get>
key duration_key(std::string_view name, applies when, Get get, std::int64_t min, std::int64_t max) {
    auto made =
        make_key(name, when, get,
                 [=](reader& r, const toml::table& t, std::string_view path, std::string_view k,
                     auto& out) { r.duration(t, path, k, out, min, max); });
    made.integer = true;
    return made;
}

template <class Get>
key address_key(std::string_view name, Get get) {
    return make_key(name, applies::restart, get,
                    [](reader& r, const toml::table& t, std::string_view path, std::string_view k,
                       std::optional<endpoint>& out) { r.address(t, path, k, out); });
}

/// A key read by code of its own (paths, lists of tables); `same` and `copy` compare and copy
/// what `get` returns.
template <class Get>
key custom_key(std::string_view name, applies when, Get get) {
    return {name,
            when,
            {},
            [=](const settings& a, const settings& b) { return get(a) == get(b); },
            [=](const settings& from, settings& to) { get(to) = get(from); }};
}

#define RRPCD_MEMBER(path) \
    [](auto& s) -> auto& { \
        return s.path;     \
    }

/// Every table's keys, in the order they are read.
const std::vector<std::pair<std::string_view, std::vector<key>>>& tables() {
    constexpr auto live = applies::live;
    constexpr auto restart = applies::restart;
    constexpr std::int64_t i32 = std::numeric_limits<std::int32_t>::max();
    static const std::vector<std::pair<std::string_view, std::vector<key>>> all{
        {"server",
         // The planes are made at start.
         {integer_key("threads", restart, RRPCD_MEMBER(server.threads), 0, 16)}},
        {"mqtt",
         {address_key("listen", RRPCD_MEMBER(mqtt.listen)),
          address_key("tls_listen", RRPCD_MEMBER(mqtt.tls_listen)),
          duration_key("keepalive_min_s", live, RRPCD_MEMBER(mqtt.keep_alive_min), 0, 65535),
          duration_key("keepalive_max_s", live, RRPCD_MEMBER(mqtt.keep_alive_max), 0, 65535),
          duration_key("connect_timeout_ms", live, RRPCD_MEMBER(mqtt.connect_timeout), 100,
                       600'000),
          integer_key("max_packet_bytes", live, RRPCD_MEMBER(mqtt.max_packet_size), 1024,
                      268'435'460),
          integer_key("max_outbound_bytes", live, RRPCD_MEMBER(mqtt.max_outbound_bytes), 64 * 1024,
                      i32),
          integer_key("max_connections", live, RRPCD_MEMBER(mqtt.max_connections), 1, 10'000'000),
          integer_key("max_connections_per_address", live,
                      RRPCD_MEMBER(mqtt.max_connections_per_address), 1, 10'000'000),
          integer_key("login_backoff_after", live, RRPCD_MEMBER(mqtt.login_backoff.failures), 1,
                      1000),
          // The outbox is sized by it at start.
          integer_key("max_queued_messages", restart, RRPCD_MEMBER(mqtt.max_queued_messages), 1,
                      10'000'000),
          integer_key("max_inflight_messages", live, RRPCD_MEMBER(mqtt.max_inflight_messages), 1,
                      1000),
          duration_key("queue_settle_ms", live, RRPCD_MEMBER(mqtt.queue_settle), 0, 60'000),
          integer_key("max_subscriptions", live, RRPCD_MEMBER(mqtt.max_subscriptions), 1,
                      1'000'000),
          integer_key("max_subscription_bytes", live, RRPCD_MEMBER(mqtt.max_subscription_bytes),
                      1024, 64 * 1024 * 1024),
          duration_key("session_expiry_s", restart, RRPCD_MEMBER(mqtt.session_expiry), 1,
                       366 * 86'400),
          duration_key("login_backoff_max_s", live, RRPCD_MEMBER(mqtt.login_backoff.max_delay), 1,
                       86'400),
          integer_key("login_backoff_entries", restart,
                      RRPCD_MEMBER(mqtt.login_backoff.max_entries), 100, 100'000'000)}},
        {"http",
         {address_key("listen", RRPCD_MEMBER(http.listen)),
          address_key("tls_listen", RRPCD_MEMBER(http.tls_listen)),
          integer_key("max_header_bytes", live, RRPCD_MEMBER(http.max_header_bytes), 8 * 1024,
                      64 * 1024 * 1024),
          integer_key("max_body_bytes", live, RRPCD_MEMBER(http.max_body_bytes), 8 * 1024,
                      64 * 1024 * 1024),
          duration_key("idle_timeout_s", live, RRPCD_MEMBER(http.idle_timeout), 1, 3600),
          duration_key("header_timeout_ms", live, RRPCD_MEMBER(http.header_timeout), 100, 600'000),
          duration_key("request_timeout_ms", live, RRPCD_MEMBER(http.request_timeout), 100,
                       3'600'000),
          integer_key("max_connections", live, RRPCD_MEMBER(http.max_connections), 1, 10'000'000),
          integer_key("max_connections_per_address", live,
                      RRPCD_MEMBER(http.max_connections_per_address), 1, 10'000'000),
          // The nonce cache is sized by it at start.
          duration_key("signature_window_s", restart, RRPCD_MEMBER(http.signature_window), 1,
                       86'400),
          integer_key("max_nonces", restart, RRPCD_MEMBER(http.max_nonces), 100, 100'000'000),
          duration_key("shutdown_grace_ms", live, RRPCD_MEMBER(http.shutdown_grace), 0, 600'000)}},
        {"rrpc",
         {duration_key("timeout_min_ms", live, RRPCD_MEMBER(rrpc.timeout_min), 1, 600'000),
          duration_key("timeout_max_ms", live, RRPCD_MEMBER(rrpc.timeout_max), 1, 600'000),
          // Part of every MessageId: changing it under a running generator could repeat ids.
          integer_key("node_id", restart, RRPCD_MEMBER(rrpc.node_id), 0, 31),
          integer_key("max_pending_per_device", live, RRPCD_MEMBER(rrpc.max_pending_per_device), 1,
                      1'000'000)}},
        {"tls",  // read by read_tls(); a reload loads the new certificate
         {custom_key("cert_file", live, RRPCD_MEMBER(tls.cert_file)),
          custom_key("key_file", live, RRPCD_MEMBER(tls.key_file)),
          custom_key("min_version", live, RRPCD_MEMBER(tls.tls13_only))}},
        {"store",
         {custom_key("path", restart, RRPCD_MEMBER(store.path)),
          integer_key("max_queue_bytes", restart, RRPCD_MEMBER(store.max_queue_bytes), 1 << 20,
                      std::int64_t{1} << 40)}},
        {"log",
         {custom_key("level", live, RRPCD_MEMBER(log_level)),
          custom_key("format", restart, RRPCD_MEMBER(log_format)),
          [] {
              auto k = custom_key("access", live, RRPCD_MEMBER(log_access));
              k.boolean = true;
              return k;
          }()}},
        {"thing",
         {duration_key("sync_timeout_ms", live, RRPCD_MEMBER(thing.sync_timeout), 100, 600'000)}},
        {"replies",
         {duration_key("retention_s", restart, RRPCD_MEMBER(replies.retention), 1, 30 * 86'400),
          integer_key("max_records", restart, RRPCD_MEMBER(replies.max_records), 1, 100'000'000),
          integer_key("max_record_bytes", restart, RRPCD_MEMBER(replies.max_record_bytes), 1 << 20,
                      std::int64_t{1} << 40),
          integer_key("max_async_calls", restart, RRPCD_MEMBER(replies.max_async_calls), 1,
                      100'000'000),
          integer_key("max_async_bytes", restart, RRPCD_MEMBER(replies.max_async_bytes), 1 << 20,
                      std::int64_t{1} << 40),
          integer_key("max_queued", restart, RRPCD_MEMBER(replies.max_queued), 1, 10'000'000),
          integer_key("max_queued_bytes", restart, RRPCD_MEMBER(replies.max_queued_bytes), 1024,
                      4'294'967'296),
          duration_key("webhook_retry_s", restart, RRPCD_MEMBER(replies.webhook_retry), 1,
                       30 * 86'400),
          custom_key("webhooks", restart, RRPCD_MEMBER(replies.webhooks))}},
        {"metrics", {custom_key("token", live, RRPCD_MEMBER(metrics.token))}},
        {"amqp",
         {address_key("listen", RRPCD_MEMBER(amqp.listen)),
          address_key("tls_listen", RRPCD_MEMBER(amqp.tls_listen)),
          duration_key("idle_min_ms", restart, RRPCD_MEMBER(amqp.idle_min), 1000, 3'600'000),
          duration_key("idle_max_ms", restart, RRPCD_MEMBER(amqp.idle_max), 1000, 3'600'000),
          duration_key("receiver_timeout_ms", restart, RRPCD_MEMBER(amqp.receiver_timeout), 100,
                       600'000),
          duration_key("ack_timeout_ms", restart, RRPCD_MEMBER(amqp.ack_timeout), 100, 3'600'000),
          integer_key("max_connections", restart, RRPCD_MEMBER(amqp.max_connections), 1, 1'000'000),
          integer_key("max_connections_per_client", restart,
                      RRPCD_MEMBER(amqp.max_connections_per_client), 1, 1'000'000),
          custom_key("groups", restart, RRPCD_MEMBER(amqp.groups))}},
        {"cluster",
         {custom_key("redis", restart, RRPCD_MEMBER(cluster.redis)),
          custom_key("password", restart, RRPCD_MEMBER(cluster.password)),
          custom_key("password_file", restart, RRPCD_MEMBER(cluster.password)),
          [] {
              auto k = custom_key("node_id", restart, RRPCD_MEMBER(cluster.node_id));
              k.integer = true;
              return k;
          }(),
          duration_key("lease_ms", restart, RRPCD_MEMBER(cluster.lease), 1000, 600'000),
          duration_key("op_timeout_ms", restart, RRPCD_MEMBER(cluster.op_timeout), 10, 60'000)}},
        {"console",
         {[] {
              auto k = custom_key("enabled", live, RRPCD_MEMBER(console.enabled));
              k.boolean = true;
              return k;
          }(),
          duration_key("session_ttl_s", live, RRPCD_MEMBER(console.session_ttl), 60, 30 * 86'400),
          integer_key("max_sessions", live, RRPCD_MEMBER(console.max_sessions), 1, 1'000'000),
          custom_key("users", live, RRPCD_MEMBER(console.users))}},
        // Arrays of tables: read by code of their own; listed here for reload.
        {"access_keys", {custom_key("", live, RRPCD_MEMBER(access_keys))}},
        {"products", {custom_key("", restart, RRPCD_MEMBER(products))}},
        {"devices", {custom_key("", restart, RRPCD_MEMBER(devices))}},
    };
    return all;
}

#undef RRPCD_MEMBER

/// `[cluster]`'s own keys: the Redis URL (parsed here, once), its password, an optional node id.
void read_cluster(reader& r, const toml::table& t, cluster_settings& out) {
    // Empty is allowed here: "" is the default (no Redis, no AUTH).
    const auto text = [&](std::string_view key, std::string& into) {
        const auto* n = t.get(key);
        if (n == nullptr) return;
        if (const auto* v = n->as_string())
            into = v->get();
        else
            r.fail(n->source(), "cluster." + std::string{key}, "expected a string");
    };
    text("password", out.password);
    if (const auto* file = t.get("password_file")) {
        std::string path;
        r.string(t, "cluster", "password_file", path, false);
        if (const auto secret = read_text(path, max_secret_bytes)) {
            out.password = *secret;
            while (!out.password.empty() &&
                   (out.password.back() == '\n' || out.password.back() == '\r'))
                out.password.pop_back();
        } else {
            r.fail(file->source(), "cluster.password_file", secret.error());
        }
    }
    if (t.get("node_id") != nullptr) {
        std::uint32_t id = 0;
        r.integer(t, "cluster", "node_id", id, 0, 31);
        out.node_id = id;
    }
    text("redis", out.redis);
    if (out.redis.empty()) return;
    const auto bad = [&](std::string_view why) {
        r.fail(t.get("redis")->source(), "cluster.redis", std::string{why});
    };
    const auto url = boost::urls::parse_uri(out.redis);
    if (!url) return bad("expected redis://[:password@]host[:port] or unix:///path");
    if (url->scheme() == "unix") {
        out.unix_path = url->path();
        if (out.unix_path.empty() || out.unix_path.front() != '/')
            return bad("a Unix socket needs an absolute path: unix:///run/redis/redis.sock");
        return;
    }
    if (url->scheme() != "redis" || url->host().empty())
        return bad("expected redis://[:password@]host[:port] or unix:///path");
    out.host = url->host();
    if (url->has_port()) {
        const auto port = url->port_number();
        if (port == 0) return bad("expected a port of 1-65535");
        out.port = port;
    }
    if (url->has_password() && out.password.empty()) out.password = url->password();
    if (!url->path().empty() && url->path() != "/")
        return bad("a database number is not supported: rrpcd uses database 0");
}

/// The keys of a table, as only_keys() wants them.
std::vector<std::string_view> names_of(const std::vector<key>& keys) {
    std::vector<std::string_view> names;
    for (const auto& k : keys) names.push_back(k.name);
    return names;
}

/// Reads the table `name` (when present) by its key list: unknown keys are refused, each known
/// one read with its range. Returns the table for the checks that span keys.
const toml::table* read_table(reader& r, const toml::table& root, std::string_view name,
                              settings& out) {
    const auto* t = r.table(root, name);
    if (t == nullptr) return nullptr;
    for (const auto& [n, keys] : tables()) {
        if (n != name) continue;
        r.only_keys(*t, name, names_of(keys));
        for (const auto& k : keys)
            if (k.read) k.read(r, *t, name, out);
    }
    return t;
}

/// `kinds` and `products` of a webhook or a consumer group: lists of strings, each kind one of
/// the uplink's (a list given replaces the default).
void read_kinds_and_products(reader& r, const toml::table& t, const std::string& path,
                             std::vector<std::string>& kinds, std::vector<std::string>& products) {
    for (const auto& [name, list] :
         {std::pair{"kinds", &kinds}, std::pair{"products", &products}}) {
        const auto* node = t.get(name);
        if (node == nullptr) continue;
        const auto* many = node->as_array();
        if (many == nullptr || !many->is_homogeneous(toml::node_type::string)) {
            r.fail(node->source(), path + "." + name, "expected a list of strings");
            continue;
        }
        list->clear();
        for (const auto& v : *many) list->push_back(*v.value<std::string>());
    }
    for (const auto& k : kinds)
        if (!is_uplink_kind(k))
            r.fail(t.get("kinds")->source(), path + ".kinds",
                   "\"" + k + "\" is not one of reply, property, event, custom, status");
}

void read_document(reader& r, const toml::table& root, const std::filesystem::path& base,
                   const embedded_files& files, settings& out) {
    std::vector<std::string_view> sections;
    for (const auto& [name, keys] : tables()) sections.push_back(name);
    r.only_keys(root, "", sections);
    read_table(r, root, "server", out);
    if (const auto* t = read_table(r, root, "mqtt", out)) {
        if (out.mqtt.keep_alive_min > out.mqtt.keep_alive_max)
            r.fail(t->source(), "mqtt.keepalive_min_s", "must not exceed mqtt.keepalive_max_s");
    }
    if (const auto* t = read_table(r, root, "http", out)) {
        if (out.http.header_timeout > out.http.request_timeout)
            r.fail(t->source(), "http.header_timeout_ms",
                   "must not exceed http.request_timeout_ms");
    }
    if (const auto* t = read_table(r, root, "rrpc", out)) {
        if (out.rrpc.timeout_min > out.rrpc.timeout_max)
            r.fail(t->source(), "rrpc.timeout_min_ms", "must not exceed rrpc.timeout_max_ms");
    }
    if (const auto* t = read_table(r, root, "tls", out)) {
        std::string cert, key, version = "1.2";
        r.string(*t, "tls", "cert_file", cert, true);
        r.string(*t, "tls", "key_file", key, true);
        r.string(*t, "tls", "min_version", version, false);
        if (version != "1.2" && version != "1.3")
            r.fail(t->get("min_version")->source(), "tls.min_version",
                   "must be \"1.2\" or \"1.3\"");
        if (!cert.empty()) out.tls.cert_file = std::filesystem::absolute(base / cert);
        if (!key.empty()) out.tls.key_file = std::filesystem::absolute(base / key);
        out.tls.tls13_only = version == "1.3";
    }
    out.store.path = base / out.store.path;
    if (const auto* t = read_table(r, root, "store", out)) {
        if (const auto* node = t->get("path")) {
            if (const auto* v = node->as_string())
                out.store.path = v->get().empty() ? std::filesystem::path{} : base / v->get();
            else
                r.fail(node->source(), "store.path", "expected a file name (\"\" for memory only)");
        }
    }
    for (const auto& [name, listener] :
         {std::pair{"mqtt", &out.mqtt.tls_listen}, std::pair{"http", &out.http.tls_listen}}) {
        const auto key = std::string{name} + ".tls_listen";
        if (*listener && !out.tls.configured())
            r.fail(root.at_path(key).node()->source(), key,
                   "needs a [tls] table with cert_file and key_file");
    }
    if (!out.mqtt.listen && !out.mqtt.tls_listen)
        r.fail(root["mqtt"].node()->source(), "mqtt",
               "both listeners are off (set listen or tls_listen)");
    if (!out.http.listen && !out.http.tls_listen)
        r.fail(root["http"].node()->source(), "http",
               "both listeners are off (set listen or tls_listen)");
    if (const auto* t = read_table(r, root, "log", out)) {
        r.string(*t, "log", "level", out.log_level, false);
        if (out.log_level == "warning") out.log_level = "warn";  // the other common spelling
        static const std::set<std::string, std::less<>> levels{"trace", "debug",    "info", "warn",
                                                               "error", "critical", "off"};
        if (!levels.contains(out.log_level))
            r.fail(t->get("level")->source(), "log.level",
                   "must be one of trace, debug, info, warn, error, critical, off");
        r.string(*t, "log", "format", out.log_format, false);
        if (out.log_format != "logfmt" && out.log_format != "json")
            r.fail(t->get("format")->source(), "log.format", "must be \"logfmt\" or \"json\"");
        if (const auto* access = t->get("access")) {
            if (const auto* b = access->as_boolean())
                out.log_access = b->get();
            else
                r.fail(access->source(), "log.access", "expected true or false");
        }
    }
    read_table(r, root, "thing", out);
    if (const auto* t = read_table(r, root, "replies", out)) {
        if (const auto* arr = r.tables(*t, "webhooks")) {
            for (std::size_t i = 0; i < arr->size(); ++i) {
                const auto& w = *arr->get(i)->as_table();
                const auto path = "replies.webhooks[" + std::to_string(i) + "]";
                webhook hook;
                r.only_keys(
                    w, path,
                    {"url", "secret", "ca_file", "id", "max_in_flight", "kinds", "products"});
                read_kinds_and_products(r, w, path, hook.kinds, hook.products);
                r.string(w, path, "url", hook.url, true);
                r.string(w, path, "secret", hook.secret, true);
                r.string(w, path, "id", hook.id, false);
                r.integer(w, path, "max_in_flight", hook.max_in_flight, 1, 64);
                std::string ca;
                r.string(w, path, "ca_file", ca, false);
                if (!ca.empty()) hook.ca_file = std::filesystem::absolute(base / ca);
                const auto url = boost::urls::parse_absolute_uri(hook.url);
                if (!hook.url.empty() &&
                    (!url || (url->scheme() != "http" && url->scheme() != "https") ||
                     url->host().empty()))
                    r.fail(w.get("url")->source(), path + ".url",
                           "expected an http:// or https:// URL");
                else if (!ca.empty() && url && url->scheme() != "https")
                    r.fail(w.get("ca_file")->source(), path + ".ca_file",
                           "only for an https:// URL");
                else if (std::error_code fec;
                         !ca.empty() && !std::filesystem::is_regular_file(hook.ca_file, fec))
                    r.fail(w.get("ca_file")->source(), path + ".ca_file",
                           hook.ca_file.string() + " is not a readable file" +
                               (fec ? " (" + fec.message() + ")" : std::string{}));
                for (const auto& other : out.replies.webhooks)
                    if (identity_of(other) == identity_of(hook))
                        r.fail(w.source(), path,
                               "the same webhook (URL and secret, or id) as an earlier one");
                out.replies.webhooks.push_back(std::move(hook));
            }
        }
    }
    if (const auto* t = read_table(r, root, "amqp", out)) {
        if (out.amqp.idle_min > out.amqp.idle_max)
            r.fail(t->source(), "amqp.idle_min_ms", "must not exceed amqp.idle_max_ms");
        if (out.amqp.listen && !is_loopback_host(out.amqp.listen->host))
            r.fail(t->get("listen")->source(), "amqp.listen",
                   "plain AMQP only on a loopback address (the platform's consumers use TLS: "
                   "set tls_listen)");
        if (out.amqp.tls_listen && !out.tls.configured())
            r.fail(t->get("tls_listen")->source(), "amqp.tls_listen",
                   "needs a [tls] table with cert_file and key_file");
        if (const auto* arr = r.tables(*t, "groups")) {
            for (std::size_t i = 0; i < arr->size(); ++i) {
                const auto& g = *arr->get(i)->as_table();
                const auto path = "amqp.groups[" + std::to_string(i) + "]";
                amqp_group group;
                r.only_keys(g, path, {"id", "kinds", "products", "max_bytes", "max_age_s"});
                r.string(g, path, "id", group.id, true);
                r.integer(g, path, "max_bytes", group.max_bytes, 1024, std::int64_t{1} << 40);
                r.duration(g, path, "max_age_s", group.max_age, 1, 30 * 86'400);
                read_kinds_and_products(r, g, path, group.kinds, group.products);
                if (!group.id.empty() && !is_valid_group_id(group.id))
                    r.fail(g.get("id")->source(), path + ".id",
                           "expected 1-64 letters, digits, _ or -");
                for (const auto& other : out.amqp.groups)
                    if (other.id == group.id) r.fail(g.source(), path + ".id", "duplicate id");
                out.amqp.groups.push_back(std::move(group));
            }
        }
    }
    if (const auto* t = read_table(r, root, "cluster", out)) read_cluster(r, *t, out.cluster);
    if (const auto* t = read_table(r, root, "metrics", out))
        r.string(*t, "metrics", "token", out.metrics.token, false);
    if (const auto* t = read_table(r, root, "console", out)) {
        if (const auto* enabled = t->get("enabled")) {
            if (const auto* b = enabled->as_boolean())
                out.console.enabled = b->get();
            else
                r.fail(enabled->source(), "console.enabled", "expected true or false");
        }
        if (const auto* arr = r.tables(*t, "users")) {
            for (std::size_t i = 0; i < arr->size(); ++i) {
                const auto& u = *arr->get(i)->as_table();
                const auto path = "console.users[" + std::to_string(i) + "]";
                console_user user;
                std::string role;
                r.only_keys(u, path, {"name", "password_hash", "role"});
                r.string(u, path, "name", user.name, true);
                r.string(u, path, "password_hash", user.password_hash, true);
                r.string(u, path, "role", role, true);
                if (!user.name.empty() && !is_valid_console_user_name(user.name))
                    r.fail(u.get("name")->source(), path + ".name",
                           "expected 1-64 letters, digits or . _ - @");
                if (!user.password_hash.empty() && !kit::parse_password_hash(user.password_hash))
                    r.fail(u.get("password_hash")->source(), path + ".password_hash",
                           "expected the output of `rrpcd hash-password` ($scrypt$ln=…)");
                if (role == "operator")
                    user.role = console_user::role_kind::operator_;
                else if (!role.empty() && role != "viewer")
                    r.fail(u.get("role")->source(), path + ".role",
                           "must be \"viewer\" or \"operator\"");
                for (const auto& other : out.console.users)
                    if (!user.name.empty() && other.name == user.name)
                        r.fail(u.source(), path + ".name", "duplicate name");
                out.console.users.push_back(std::move(user));
            }
        }
    }
    if (const auto* arr = r.tables(root, "products")) {
        for (std::size_t i = 0; i < arr->size(); ++i) {
            const auto& t = *arr->get(i)->as_table();
            const auto path = "products[" + std::to_string(i) + "]";
            product p;
            r.only_keys(t, path, {"product_key", "tsl"});
            r.string(t, path, "product_key", p.product_key, true);
            if (!p.product_key.empty() && !is_valid_product_key(p.product_key))
                r.fail(t.get("product_key")->source(), path + ".product_key",
                       "expected 1-32 letters or digits");
            std::vector<std::string> tsl_files;
            if (const auto* tsl = t.get("tsl")) {
                if (const auto* one = tsl->as_string())
                    tsl_files.push_back(one->get());
                else if (const auto* many = tsl->as_array();
                         many && many->is_homogeneous(toml::node_type::string))
                    for (const auto& f : *many) tsl_files.push_back(*f.value<std::string>());
                else
                    r.fail(tsl->source(), path + ".tsl",
                           "expected a file name or a list of file names");
            }
            for (const auto& f : tsl_files) {
                // A file on disk first; one the binary holds (the demo's model) when it is not
                // there, so the printed default and the installed example load anywhere.
                const auto embedded = std::ranges::find(files, std::string_view{f},
                                                        &embedded_files::value_type::first);
                std::error_code exists_ec;
                auto text = embedded != files.end() && !std::filesystem::exists(base / f, exists_ec)
                                ? boost::system::result<std::string,
                                                        std::string>{boost::system::in_place_value,
                                                                     std::string{embedded->second}}
                                : read_text(base / f, max_config_bytes);
                if (!text) {
                    r.fail(t.get("tsl")->source(), path + ".tsl", text.error());
                    break;
                }
                p.tsl_json.push_back(std::move(*text));
            }
            out.products.push_back(std::move(p));
        }
    }
    if (const auto* arr = r.tables(root, "access_keys")) {
        std::set<std::string, std::less<>> ids;
        for (std::size_t i = 0; i < arr->size(); ++i) {
            const auto& t = *arr->get(i)->as_table();
            const auto path = "access_keys[" + std::to_string(i) + "]";
            access_key key;
            r.only_keys(t, path,
                        {"id", "secret", "qps_rrpc", "qps_async_rrpc", "qps_invoke_thing_service"});
            r.string(t, path, "id", key.id, true);
            r.string(t, path, "secret", key.secret, true);
            r.integer(t, path, "qps_rrpc", key.qps.rrpc, 0, 1'000'000);
            r.integer(t, path, "qps_async_rrpc", key.qps.async_rrpc, 0, 1'000'000);
            r.integer(t, path, "qps_invoke_thing_service", key.qps.invoke_thing_service, 0,
                      1'000'000);
            if (!key.id.empty() && !ids.insert(key.id).second)
                r.fail(t.source(), path + ".id", "duplicate id");
            out.access_keys.push_back(std::move(key));
        }
    }
    if (const auto* arr = r.tables(root, "devices")) {
        std::set<std::pair<std::string, std::string>> seen;
        for (std::size_t i = 0; i < arr->size(); ++i) {
            const auto& t = *arr->get(i)->as_table();
            const auto path = "devices[" + std::to_string(i) + "]";
            device d;
            r.only_keys(t, path, {"product_key", "device_name", "device_secret"});
            r.string(t, path, "product_key", d.product_key, true);
            r.string(t, path, "device_name", d.device_name, true);
            r.string(t, path, "device_secret", d.device_secret, true);
            if (!d.product_key.empty() && !is_valid_product_key(d.product_key))
                r.fail(t.get("product_key")->source(), path + ".product_key",
                       "expected 1-32 letters or digits");
            if (!d.device_name.empty() && !is_valid_device_name(d.device_name))
                r.fail(t.get("device_name")->source(), path + ".device_name",
                       "expected 4-32 characters of A-Z a-z 0-9 - _ @ . :");
            if (!seen.emplace(d.product_key, d.device_name).second)
                r.fail(t.source(), path, "duplicate device " + d.product_key + "/" + d.device_name);
            out.devices.push_back(std::move(d));
        }
    }
}

/// The keys of each array of tables, and which of them are integers.
struct table_array {
    std::vector<std::string_view> path;  ///< where the array is: {"access_keys"}
    std::vector<std::string_view> keys;
    std::vector<std::string_view> integers;
};

const std::vector<table_array>& table_arrays() {
    static const std::vector<table_array> all{
        {{"access_keys"},
         {"id", "secret", "qps_rrpc", "qps_async_rrpc", "qps_invoke_thing_service"},
         {"qps_rrpc", "qps_async_rrpc", "qps_invoke_thing_service"}},
        {{"products"}, {"product_key", "tsl"}, {}},
        {{"devices"}, {"product_key", "device_name", "device_secret"}, {}},
        {{"console", "users"}, {"name", "password_hash", "role"}, {}},
        {{"amqp", "groups"}, {"id", "max_bytes", "max_age_s"}, {"max_bytes", "max_age_s"}},
        {{"replies", "webhooks"},
         {"url", "secret", "ca_file", "id", "max_in_flight"},
         {"max_in_flight"}},
    };
    return all;
}

std::vector<std::string> split_key(std::string_view dotted) {
    std::vector<std::string> out;
    for (std::size_t at = 0;;) {
        const auto dot = dotted.find('.', at);
        out.emplace_back(dotted.substr(at, dot - at));
        if (dot == std::string_view::npos) return out;
        at = dot + 1;
    }
}

/// Puts `text` into `t[key]`, as an integer when `integer`, as true/false when `boolean`; the
/// error says what is wrong.
std::optional<std::string> put(toml::table& t, const std::string& key, const std::string& text,
                               bool integer, bool boolean = false) {
    if (boolean) {
        if (text != "true" && text != "false") return "expected true or false";
        t.insert_or_assign(key, text == "true");
        return std::nullopt;
    }
    if (!integer) {
        t.insert_or_assign(key, text);
        return std::nullopt;
    }
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size()) return "expected an integer";
    t.insert_or_assign(key, n);
    return std::nullopt;
}

/// Applies each override to the document, after the file and in order (a later one wins).
void apply_overrides(reader& r, toml::table& root, const std::vector<override_value>& overrides) {
    for (const auto& o : overrides) {
        const auto parts = split_key(o.key);
        const auto refuse = [&](const std::string& what) {
            if (!r.error()) r.came_from(o.key, o.origin);
            r.fail({}, o.key, what);
        };
        // A plain table's key: `mqtt.listen`.
        if (parts.size() == 2) {
            const key* k = nullptr;
            for (const auto& [name, keys] : tables())
                if (name == parts[0])
                    for (const auto& candidate : keys)
                        if (!candidate.name.empty() && candidate.name == parts[1]) k = &candidate;
            if (k == nullptr) return refuse("not a setting");
            auto* t = root[parts[0]].as_table();
            if (t == nullptr)
                t = root.insert_or_assign(parts[0], toml::table{}).first->second.as_table();
            if (auto e = put(*t, parts[1], o.value, k->integer, k->boolean)) return refuse(*e);
            r.came_from(o.key, o.origin);
            continue;
        }
        // An array of tables' element: `access_keys.0.secret`, `replies.webhooks.0.url`.
        const table_array* array = nullptr;
        for (const auto& a : table_arrays())
            if (parts.size() == a.path.size() + 2 &&
                std::equal(a.path.begin(), a.path.end(), parts.begin()))
                array = &a;
        if (array == nullptr) return refuse("not a setting");
        const auto& index_text = parts[array->path.size()];
        const auto& field = parts.back();
        std::size_t index = 0;
        const auto [end, ec] =
            std::from_chars(index_text.data(), index_text.data() + index_text.size(), index);
        if (ec != std::errc{} || end != index_text.data() + index_text.size())
            return refuse("expected an index (0, 1, …) after " + std::string{array->path.back()});
        if (std::ranges::find(array->keys, field) == array->keys.end())
            return refuse("not a key of [[" + std::string{array->path.back()} + "]]");
        toml::table* parent = &root;
        for (std::size_t i = 0; i + 1 < array->path.size(); ++i) {
            auto* next = (*parent)[array->path[i]].as_table();
            if (next == nullptr)
                next = parent->insert_or_assign(array->path[i], toml::table{})
                           .first->second.as_table();
            parent = next;
        }
        auto* list = (*parent)[array->path.back()].as_array();
        if (list == nullptr)
            list = parent->insert_or_assign(array->path.back(), toml::array{})
                       .first->second.as_array();
        if (index > list->size())
            return refuse("index " + std::to_string(index) + " leaves a gap: the array has " +
                          std::to_string(list->size()) + " tables");
        if (index == list->size()) list->push_back(toml::table{});
        auto* element = list->get(index)->as_table();
        if (element == nullptr) return refuse("expected a table");
        const bool integer = std::ranges::find(array->integers, field) != array->integers.end();
        if (auto e = put(*element, field, o.value, integer)) return refuse(*e);
        std::string path;
        for (const auto& p : array->path) path += (path.empty() ? "" : ".") + std::string{p};
        r.came_from(path + "[" + index_text + "]." + field, o.origin);
    }
}

/// Parses the TOML text and applies the overrides: the document the settings are read from.
std::optional<toml::table> merged_document(reader& r, std::string_view toml_text,
                                           std::string_view source,
                                           const std::vector<override_value>& overrides) {
    toml::table root;
    try {
        root = toml::parse(toml_text, source);
    } catch (const toml::parse_error& e) {
        r.fail(e.source(), "(syntax)", e.description());
        return std::nullopt;
    }
    apply_overrides(r, root, overrides);
    if (r.error()) return std::nullopt;
    return root;
}

}  // namespace

std::vector<std::string> restart_keys(const settings& now, const settings& next) {
    std::vector<std::string> changed;
    for (const auto& [table, keys] : tables())
        for (const auto& k : keys)
            if (k.when == applies::restart && !k.same(now, next))
                changed.push_back(k.name.empty() ? std::string{table}
                                                 : std::string{table} + "." + std::string{k.name});
    return changed;
}

void apply_live(const settings& next, settings& now) {
    for (const auto& [table, keys] : tables())
        for (const auto& k : keys)
            if (k.when == applies::live) k.copy(next, now);
}

void throw_exception_from_error(const load_error& e, const boost::source_location&) {
    throw std::runtime_error(e.message);
}

boost::system::result<settings, load_error> load_string(
    std::string_view toml_text, std::string_view source, const std::filesystem::path& base_dir,
    const std::vector<override_value>& overrides, const embedded_files& files) {
    reader r{std::string{source}};
    const auto root = merged_document(r, toml_text, source, overrides);
    if (!root) return *r.error();
    settings out;
    read_document(r, *root, base_dir, files, out);
    if (r.error()) return *r.error();
    return out;
}

std::string identity_of(const webhook& hook) {
    if (!hook.id.empty()) return hook.id;
    return kit::to_hex(kit::sha256(hook.url + "\n" + hook.secret)).substr(0, 16);
}

boost::system::result<std::string, std::string> read_config_text(
    const std::filesystem::path& path) {
    return read_text(path, max_config_bytes);
}

boost::system::result<settings, load_error> load_file(
    const std::filesystem::path& path, const std::vector<override_value>& overrides) {
    if (std::error_code ec; std::filesystem::is_directory(path, ec))
        return load_error{path.string() + ": is a directory; give the config file (rrpcd.toml)"};
    const auto text = read_text(path, max_config_bytes);  // empty is valid TOML: all defaults
    if (!text) return load_error{text.error()};
    return load_string(*text, path.string(), path.parent_path(), overrides,
                       {{"models/a1demo.json", demo_model_json()}});
}

boost::system::result<std::vector<override_value>, load_error> environment_overrides(
    std::span<const std::string> environment) {
    std::vector<override_value> out;
    constexpr std::string_view prefix = "RRPCD_";
    for (const auto& entry : environment) {
        const auto eq = entry.find('=');
        const std::string_view name = std::string_view{entry}.substr(0, eq);
        if (!name.starts_with(prefix) || eq == std::string::npos) continue;
        const auto rest = name.substr(prefix.size());
        std::string lower;
        for (const char c : rest)
            lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        if (rest.find("__") == std::string_view::npos) {
            // RRPCD_MQTT_LISTEN: a section's name with one underscore is a setting misspelt.
            for (const auto& [section, keys] : tables())
                if (lower.starts_with(std::string{section} + "_"))
                    return load_error{"environment " + std::string{name} +
                                      ": not a setting; a section and its key are joined by two "
                                      "underscores (RRPCD_MQTT__LISTEN)"};
            continue;  // RRPCD_CONFIG and other tools' variables
        }
        std::string key;
        for (std::size_t at = 0;;) {
            const auto sep = lower.find("__", at);
            key += (key.empty() ? "" : ".") + lower.substr(at, sep - at);
            if (sep == std::string::npos) break;
            at = sep + 2;
        }
        override_value o{key, entry.substr(eq + 1), "environment " + std::string{name}};
        // `…_FILE`: a secret's value is in that file (mounted by the orchestrator), unless the
        // key itself ends in _file (tls.key_file). Secrets only: an id, a URL or a path is not
        // read from a file (nor shown by --print-config, which masks only secrets).
        if (key.ends_with("_file") && !key.ends_with(".cert_file") && !key.ends_with(".key_file")) {
            const auto secret = std::string_view{key}.substr(0, key.size() - 5);
            const bool is_secret = secret.ends_with("secret") || secret.ends_with(".token") ||
                                   secret.ends_with(".password");
            if (!is_secret)
                return load_error{o.origin +
                                  ": only a secret (secret, device_secret, token, password) "
                                  "is read from a file"};
            const auto text = read_text(o.value, max_secret_bytes);
            if (!text) return load_error{o.origin + ": " + text.error()};
            o.key.resize(o.key.size() - 5);
            o.value = *text;
            while (!o.value.empty() && (o.value.back() == '\n' || o.value.back() == '\r'))
                o.value.pop_back();
        }
        out.push_back(std::move(o));
    }
    return out;
}

std::size_t planes_of(const settings& s, unsigned cores) noexcept {
    if (s.server.threads != 0) return s.server.threads;
    return std::clamp<std::size_t>(cores, 1, 16);
}

boost::system::result<std::string, load_error> effective_toml(
    std::string_view toml_text, std::string_view source,
    const std::vector<override_value>& overrides) {
    reader r{std::string{source}};
    auto root = merged_document(r, toml_text, source, overrides);
    if (!root) return *r.error();
    // Keys the file and the overrides leave out, at their defaults.
    auto all = toml::parse(defaults_toml(), std::string_view{"<defaults>"});
    const auto over = [](toml::table& into, const toml::table& from, auto& self) -> void {
        for (auto&& entry : from) {
            const auto& key = entry.first;
            const auto& v = entry.second;
            auto* have = into.get(key);
            if (have != nullptr && have->is_table() && v.is_table()) {
                self(*have->as_table(), *v.as_table(), self);
                continue;
            }
            // Not a structured binding: clang 14 cannot capture one in a lambda.
            v.visit([&](const auto& node) { into.insert_or_assign(key, node); });
        }
    };
    over(all, *root, over);
    root = std::move(all);
    // Every credential masked: secrets, tokens, and the password of a URL.
    const auto mask = [](toml::table& t, auto& self) -> void {
        for (auto&& [k, v] : t) {
            const auto name = k.str();
            if (auto* sub = v.as_table()) self(*sub, self);
            if (auto* arr = v.as_array())
                for (auto& e : *arr)
                    if (auto* sub = e.as_table()) self(*sub, self);
            if (!v.is_string()) continue;
            if (name == "secret" || name == "device_secret" || name == "token" ||
                name == "password_hash" || name == "password") {
                v.as_string()->get() = "********";
            } else if (name == "url" || name == "redis") {
                v.as_string()->get() = kit::redact_url(v.as_string()->get());
            }
        }
    };
    mask(*root, mask);
    std::ostringstream out;
    out << *root << "\n";
    return {boost::system::in_place_value, out.str()};
}

}  // namespace rrpcd::config
