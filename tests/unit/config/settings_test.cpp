#include "config/settings.hpp"

#include "catch_result.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace rrpcd::config;

namespace {
std::string error_of(std::string_view toml) {
    const auto r = load_string(toml, "test.toml");
    REQUIRE_FALSE(r);
    return r.error().message;
}
settings must_load(std::string_view toml) {
    auto r = load_string(toml, "test.toml");
    REQUIRE(r);
    return *r;
}
}  // namespace

TEST_CASE("the embedded default loads: loopback, demo product, device and key", "[config]") {
    const auto s = embedded_default().value();
    CHECK(s.demo);
    CHECK(s.mqtt.listen->host == "127.0.0.1");
    CHECK(s.mqtt.listen->port == 1883);
    CHECK(s.http.listen->port == 8080);
    REQUIRE(s.devices.size() == 1);
    CHECK(s.devices[0].product_key == "a1demo");
    REQUIRE(s.access_keys.size() == 1);
}

TEST_CASE("the issue's example file loads", "[config]") {
    const auto s = load_string(R"(
[mqtt]
listen = "127.0.0.1:1883"
keepalive_min_s = 1
[http]
listen = "[::1]:0"
[rrpc]
node_id = 3
[[access_keys]]
id = "LTAIexample"
secret = "s3cret"
[[devices]]
product_key = "a1demo"
device_name = "dev1"
device_secret = "x"
)",
                               "example.toml");
    REQUIRE(s);
    CHECK(s->http.listen->host == "::1");
    CHECK(s->http.listen->port == 0);
    CHECK(s->mqtt.keep_alive_min == std::chrono::seconds{1});
    CHECK(s->rrpc.node_id == 3);
    CHECK(s->devices[0].device_secret == "x");
    CHECK_FALSE(s->demo);
}

TEST_CASE("TLS listeners need a certificate, plain ones can be turned off", "[config]") {
    const auto s = load_string(R"(
[mqtt]
listen = ""
tls_listen = "0.0.0.0:8883"
[http]
tls_listen = "127.0.0.1:8443"
[tls]
cert_file = "certs/server.crt"
key_file = "/etc/rrpcd/server.key"
min_version = "1.3"
)",
                               "tls.toml", "/srv/rrpcd");
    REQUIRE(s);
    CHECK_FALSE(s->mqtt.listen);
    CHECK(s->mqtt.tls_listen->port == 8883);
    CHECK(s->http.listen->port == 8080);  // the default stays on
    CHECK(s->tls.cert_file == "/srv/rrpcd/certs/server.crt");
    CHECK(s->tls.key_file == "/etc/rrpcd/server.key");
    CHECK(s->tls.tls13_only);
    CHECK(error_of("[mqtt]\ntls_listen = \"127.0.0.1:8883\"\n") ==
          "test.toml:2:14: mqtt.tls_listen: needs a [tls] table with cert_file and key_file");
    CHECK(error_of("[http]\nlisten = \"\"\n") ==
          "test.toml:1:1: http: both listeners are off (set listen or tls_listen)");
    CHECK(error_of("[tls]\ncert_file = \"a\"\nkey_file = \"b\"\nmin_version = \"1.0\"\n") ==
          "test.toml:4:15: tls.min_version: must be \"1.2\" or \"1.3\"");
    CHECK(error_of("[tls]\ncert_file = \"a\"\n") ==
          "test.toml:1:1: tls.key_file: missing (required)");
}

TEST_CASE("the store lives next to the config file unless told otherwise", "[config]") {
    const auto d = load_string("", "a.toml", "/etc/rrpcd");
    REQUIRE(d);
    CHECK(d->store.path == "/etc/rrpcd/data/rrpcd.db");
    const auto abs =
        load_string("[store]\npath = \"/var/lib/rrpcd/x.db\"\n", "a.toml", "/etc/rrpcd");
    REQUIRE(abs);
    CHECK(abs->store.path == "/var/lib/rrpcd/x.db");
    const auto off = load_string("[store]\npath = \"\"\n", "a.toml", "/etc/rrpcd");
    REQUIRE(off);
    CHECK(off->store.path.empty());
    CHECK(error_of("[store]\npath = 1\n") ==
          "test.toml:2:8: store.path: expected a file name (\"\" for memory only)");
}

TEST_CASE("limits load with their defaults and bounds", "[config]") {
    const auto d = load_string("", "empty.toml");
    REQUIRE(d);
    CHECK(d->mqtt.max_connections_per_address == 1000);
    CHECK(d->mqtt.login_backoff.failures == 5);
    CHECK(d->http.header_timeout == std::chrono::seconds{10});
    CHECK(d->rrpc.max_pending_per_device == 64);
    const auto s = load_string(R"(
[mqtt]
max_connections = 50
max_connections_per_address = 5
login_backoff_after = 3
login_backoff_max_s = 60
[http]
header_timeout_ms = 2000
request_timeout_ms = 5000
max_connections = 40
max_connections_per_address = 4
[rrpc]
max_pending_per_device = 2
)",
                               "limits.toml");
    REQUIRE(s);
    CHECK(s->mqtt.max_connections == 50);
    CHECK(s->mqtt.login_backoff.max_delay == std::chrono::seconds{60});
    CHECK(s->http.request_timeout == std::chrono::seconds{5});
    CHECK(s->http.max_connections_per_address == 4);
    CHECK(s->rrpc.max_pending_per_device == 2);
    CHECK(error_of("[http]\nheader_timeout_ms = 9000\nrequest_timeout_ms = 5000\n") ==
          "test.toml:1:1: http.header_timeout_ms: must not exceed http.request_timeout_ms");
}

TEST_CASE("errors name the file, the line and the key", "[config]") {
    CHECK(error_of("[mqtt]\nlisten = \"127.0.0.1:1883\"\nlisen = 1\n") ==
          "test.toml:3:1: mqtt.lisen: unknown key");
    CHECK(error_of("[mqtt]\nlisten = \"localhost:1883\"\n")
              .starts_with("test.toml:2:10: mqtt.listen: expected an IP address and port"));
    CHECK(error_of("[mqtt]\nlisten = \"127.0.0.1\"\n").starts_with("test.toml:2:10: mqtt.listen:"));
    CHECK(error_of("[mqtt]\nlisten = 1883\n").starts_with("test.toml:2:10: mqtt.listen:"));
    CHECK(error_of("[[devices]]\nproduct_key = \"a1\"\ndevice_name = \"dev1\"\n") ==
          "test.toml:1:1: devices[0].device_secret: missing (required)");
    CHECK(
        error_of("[[devices]]\nproduct_key = \"a1\"\ndevice_name = \"d\"\ndevice_secret = \"s\"\n")
            .starts_with("test.toml:3:15: devices[0].device_name: expected 4-32 characters"));
    CHECK(error_of("[rrpc]\nnode_id = 32\n") ==
          "test.toml:2:11: rrpc.node_id: must be between 0 and 31");
    CHECK(error_of("[log]\nlevel = \"loud\"\n")
              .starts_with("test.toml:2:9: log.level: must be one of"));
    CHECK(error_of("[[access_keys]]\nid = \"a\"\nsecret = \"b\"\n[[access_keys]]\nid = "
                   "\"a\"\nsecret = \"c\"\n")
              .find("access_keys[1].id: duplicate id") != std::string::npos);
    CHECK(
        error_of("[mqtt]\nkeepalive_min_s = 100\nkeepalive_max_s = 10\n").find("must not exceed") !=
        std::string::npos);
    CHECK(error_of("top = 1\n") == "test.toml:1:1: top: unknown key");
    CHECK(error_of("[mqtt\n").starts_with("test.toml:1:"));  // a TOML syntax error
}

TEST_CASE("a missing file is an error naming it", "[config]") {
    const auto r = load_file("/nonexistent/rrpcd.toml");
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "cannot read /nonexistent/rrpcd.toml: No such file or directory");
}

TEST_CASE("a reload applies live keys and names the keys that need a restart", "[config]") {
    auto now = load_string(R"(
[mqtt]
listen = "127.0.0.1:1883"
max_outbound_bytes = 100000
[rrpc]
node_id = 1
[[access_keys]]
id = "a"
secret = "s"
)",
                           "now.toml")
                   .value();
    const auto next = load_string(R"(
[mqtt]
listen = "127.0.0.1:1884"
max_outbound_bytes = 200000
[rrpc]
node_id = 2
[log]
level = "debug"
[[access_keys]]
id = "b"
secret = "t"
[[devices]]
product_key = "a1pk"
device_name = "dev1"
device_secret = "x"
)",
                                  "next.toml")
                          .value();
    CHECK(restart_keys(now, next) ==
          std::vector<std::string>{"mqtt.listen", "rrpc.node_id", "devices"});
    CHECK(restart_keys(now, now).empty());
    apply_live(next, now);
    CHECK(now.mqtt.max_outbound_bytes == 200000);
    CHECK(now.log_level == "debug");
    REQUIRE(now.access_keys.size() == 1);
    CHECK(now.access_keys[0].id == "b");
    // What needs a restart keeps its running value.
    CHECK(now.mqtt.listen->port == 1883);
    CHECK(now.rrpc.node_id == 1);
    CHECK(now.devices.empty());
}

TEST_CASE("README's configuration block shows the defaults the code has", "[config]") {
    // The defaults are written once, as the settings members' initializers; README documents
    // them in a block that must load and equal them key for key.
    std::ifstream in{std::string{RRPCD_TEST_DATA_DIR} + "/../../README.md"};
    std::stringstream text;
    text << in.rdbuf();
    const auto readme = text.str();
    const auto start = readme.find("```toml\n[server]\nthreads = 0 ");
    REQUIRE(start != std::string::npos);
    const auto body = readme.substr(start + 8, readme.find("```", start + 8) - start - 8);
    auto documented = load_string(body, "README.md").value();
    const settings defaults;
    // Every key of the block's scalar tables equals its default.
    CHECK(documented.server == defaults.server);
    CHECK(documented.mqtt == defaults.mqtt);
    CHECK(documented.http == defaults.http);
    CHECK(documented.rrpc == defaults.rrpc);
    CHECK(documented.thing == defaults.thing);
    CHECK(documented.replies.retention == defaults.replies.retention);
    CHECK(documented.replies.max_records == defaults.replies.max_records);
    CHECK(documented.log_level == defaults.log_level);
    CHECK(documented.cluster == defaults.cluster);
}

TEST_CASE("the console on a plain listener beyond loopback is warned about", "[config]") {
    auto s = embedded_default().value();
    CHECK_FALSE(plain_console_warning(s));  // 127.0.0.1
    s.http.listen = endpoint{"0.0.0.0", 8080};
    REQUIRE(plain_console_warning(s));
    CHECK(plain_console_warning(s)->find("0.0.0.0:8080") != std::string::npos);
    s.console.enabled = false;
    CHECK_FALSE(plain_console_warning(s));
    s.console.enabled = true;
    s.http.listen.reset();  // https only
    CHECK_FALSE(plain_console_warning(s));
}

TEST_CASE("the defaults document is the default settings, key for key", "[config]") {
    // --print-config shows it under a file's own keys: it must say what rrpcd really uses.
    const auto loaded = load_string(defaults_toml(), "<defaults>").value();
    const settings d;
    CHECK(loaded.mqtt == d.mqtt);
    CHECK(loaded.http == d.http);
    CHECK(loaded.store.max_queue_bytes == d.store.max_queue_bytes);
    CHECK(loaded.store.path.filename() == d.store.path.filename());  // made relative to the file
    CHECK(loaded.replies == d.replies);
    CHECK(loaded.tls == d.tls);
    CHECK(loaded.rrpc == d.rrpc);
    CHECK(loaded.thing == d.thing);
    CHECK(loaded.log_level == d.log_level);
    CHECK(loaded.log_format == d.log_format);
    CHECK(loaded.log_access == d.log_access);
    CHECK(loaded.metrics == d.metrics);
    CHECK(loaded.console == d.console);
    CHECK(loaded.cluster == d.cluster);
}

TEST_CASE("server.threads: planes and io threads, one per core when 0, at most 16", "[config]") {
    CHECK(planes_of(must_load(""), 8) == 8);                         // the default: one per core
    CHECK(planes_of(must_load("[server]\nthreads = 1\n"), 8) == 1);  // one thread, as before planes
    const auto four = must_load("[server]\nthreads = 4\n");
    CHECK(four.server.threads == 4);
    CHECK(planes_of(four, 2) == 4);
    const auto cores = must_load("[server]\nthreads = 0\n");
    CHECK(planes_of(cores, 8) == 8);
    CHECK(planes_of(cores, 64) == 16);  // the MessageId's 4 shard bits
    CHECK(planes_of(cores, 0) == 1);    // a machine that does not say
    CHECK_THAT(error_of("[server]\nthreads = 17\n"), Catch::Contains("server.threads"));
}

TEST_CASE("[[console.users]]: a name, a password hash from rrpcd hash-password, a role",
          "[config]") {
    // A hash at the lowest cost the parser takes (the command prints ln=15).
    const std::string hash =
        "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
        "gGqoGCn4Y8bu6hhC1/VoxD2iA8B4TuBM4b3Mp+y+2JY";
    const std::string text = R"(
[[console.users]]
name = "ops@example"
password_hash = ")" + hash + R"("
role = "operator"
[[console.users]]
name = "watcher"
password_hash = ")" + hash + R"("
role = "viewer"
)";
    const auto s = must_load(text);
    REQUIRE(s.console.users.size() == 2);
    CHECK(s.console.users[0].name == "ops@example");
    CHECK(s.console.users[0].role == console_user::role_kind::operator_);
    CHECK(s.console.users[1].role == console_user::role_kind::viewer);
    CHECK(s.console.users[1].password_hash == hash);

    const auto user = [&](std::string_view name, std::string_view h, std::string_view role) {
        return "[[console.users]]\nname = \"" + std::string{name} + "\"\npassword_hash = \"" +
               std::string{h} + "\"\nrole = \"" + std::string{role} + "\"\n";
    };
    CHECK(error_of(user("a b", hash, "viewer")).find("console.users[0].name") != std::string::npos);
    CHECK(error_of(user("x", "secret", "viewer")).find("hash-password") != std::string::npos);
    CHECK(error_of(user("x", hash, "admin")).find("\"viewer\" or \"operator\"") !=
          std::string::npos);
    CHECK(
        error_of(user("x", hash, "viewer") + user("x", hash, "operator")).find("duplicate name") !=
        std::string::npos);
    CHECK(error_of("[[console.users]]\nname = \"x\"\nrole = \"viewer\"\n")
              .find("console.users[0].password_hash") != std::string::npos);

    // --print-config masks the hash like a secret.
    const auto printed = effective_toml(text, "test.toml", {});
    REQUIRE(printed);
    CHECK(printed->find(hash) == std::string::npos);
    CHECK(printed->find("watcher") != std::string::npos);
}

TEST_CASE("amqp settings: listeners, groups and their bounds, and webhooks' kinds", "[config]") {
    const auto s = must_load(R"(
[amqp]
listen = "127.0.0.1:5672"
receiver_timeout_ms = 500
[[amqp.groups]]
id = "ANALYTICS"
kinds = ["property", "event"]
products = ["a1PK"]
max_bytes = 4096
max_age_s = 60
[[replies.webhooks]]
url = "http://127.0.0.1:9/hook"
secret = "s"
kinds = ["status"]
)");
    CHECK(s.amqp.enabled());
    CHECK(s.amqp.receiver_timeout == std::chrono::milliseconds{500});
    REQUIRE(s.amqp.groups.size() == 1);
    CHECK(s.amqp.groups[0].kinds == std::vector<std::string>{"property", "event"});
    CHECK(s.amqp.groups[0].max_age == std::chrono::seconds{60});
    CHECK(s.replies.webhooks[0].kinds == std::vector<std::string>{"status"});
    // A webhook without kinds gets the async answers, as before.
    CHECK(must_load("[[replies.webhooks]]\nurl = \"http://h/x\"\nsecret = \"s\"\n")
              .replies.webhooks[0]
              .kinds == std::vector<std::string>{"reply"});
    CHECK_FALSE(must_load("").amqp.enabled());
    CHECK_THAT(error_of("[amqp]\nlisten = \"0.0.0.0:5672\"\n"), Catch::Contains("loopback"));
    CHECK_THAT(error_of("[amqp]\ntls_listen = \"127.0.0.1:5671\"\n"),
               Catch::Contains("needs a [tls] table"));
    CHECK_THAT(error_of("[amqp]\nlisten = \"127.0.0.1:1\"\n[[amqp.groups]]\nid = \"a b\"\n"),
               Catch::Contains("amqp.groups[0].id"));
    CHECK_THAT(error_of("[amqp]\nlisten = \"127.0.0.1:1\"\n[[amqp.groups]]\nid = \"G\"\nkinds = "
                        "[\"lifecycle\"]\n"),
               Catch::Contains("\"lifecycle\" is not one of"));
    CHECK_THAT(error_of("[amqp]\nlisten = \"127.0.0.1:1\"\n[[amqp.groups]]\nid = \"G\"\n[[amqp."
                        "groups]]\nid = \"G\"\n"),
               Catch::Contains("duplicate id"));
    CHECK_THAT(error_of("[amqp]\nidle_min_ms = 400000\n"), Catch::Contains("idle_max_ms"));
}

TEST_CASE("cluster settings: the Redis URL is parsed once, a node id is 0..31, secrets masked") {
    const auto none = must_load("");
    CHECK_FALSE(none.cluster.enabled());
    const auto tcp = must_load(
        "[cluster]\nredis = \"redis://:pa55@10.0.0.5:6380\"\nnode_id = 7\nlease_ms = 3000\n");
    CHECK(tcp.cluster.enabled());
    CHECK(tcp.cluster.host == "10.0.0.5");
    CHECK(tcp.cluster.port == 6380);
    CHECK(tcp.cluster.password == "pa55");  // the URL's, when none is given
    CHECK(tcp.cluster.node_id == 7U);
    CHECK(tcp.cluster.lease == std::chrono::milliseconds{3000});
    const auto local = must_load("[cluster]\nredis = \"redis://localhost\"\npassword = \"x1\"\n");
    CHECK(local.cluster.port == 6379);
    CHECK(local.cluster.password == "x1");
    CHECK_FALSE(local.cluster.node_id);
    const auto unix_socket = must_load("[cluster]\nredis = \"unix:///run/redis/redis.sock\"\n");
    CHECK(unix_socket.cluster.unix_path == "/run/redis/redis.sock");
    CHECK(unix_socket.cluster.host.empty());
    CHECK_THAT(error_of("[cluster]\nredis = \"http://x\"\n"), Catch::Contains("cluster.redis"));
    CHECK_THAT(error_of("[cluster]\nredis = \"redis://x:0\"\n"), Catch::Contains("cluster.redis"));
    CHECK_THAT(error_of("[cluster]\nredis = \"redis://x/2\"\n"), Catch::Contains("database"));
    CHECK_THAT(error_of("[cluster]\nnode_id = 32\n"), Catch::Contains("cluster.node_id"));
    CHECK_THAT(error_of("[cluster]\nlease_ms = 10\n"), Catch::Contains("cluster.lease_ms"));
    CHECK_THAT(error_of("[cluster]\nredi = \"redis://x\"\n"), Catch::Contains("unknown key"));
    const auto printed = effective_toml(
        "[cluster]\nredis = \"redis://:pa55@h\"\npassword = \"s3cret\"\n", "t.toml", {});
    REQUIRE(printed);
    CHECK(printed->find("pa55") == std::string::npos);
    CHECK(printed->find("s3cret") == std::string::npos);
}
