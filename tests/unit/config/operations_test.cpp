// Configuration from outside the file (environment, flags), the command line, and the refusal
// to serve published credentials beyond loopback.
#include "config/cli.hpp"
#include "config/settings.hpp"

#include "catch_result.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdio>
#include <fstream>

using namespace rrpcd::config;

namespace {

std::vector<override_value> env(std::initializer_list<std::string> entries) {
    const std::vector<std::string> list(entries);
    return environment_overrides(list).value();
}

std::string env_error(std::initializer_list<std::string> entries) {
    const std::vector<std::string> list(entries);
    const auto r = environment_overrides(list);
    REQUIRE_FALSE(r);
    return r.error().message;
}

std::string load_error_of(std::string_view toml, const std::vector<override_value>& o) {
    const auto r = load_string(toml, "f.toml", ".", o);
    REQUIRE_FALSE(r);
    return r.error().message;
}

}  // namespace

TEST_CASE("RRPCD_<SECTION>__<KEY> names a key, arrays of tables take an index", "[config]") {
    const auto o =
        env({"PATH=/bin", "RRPCD_MQTT__LISTEN=127.0.0.1:1884", "RRPCD_ACCESS_KEYS__0__ID=LTAIenv",
             "RRPCD_ACCESS_KEYS__0__SECRET=s", "RRPCD_REPLIES__WEBHOOKS__0__URL=http://u:p@h:1/x",
             "RRPCD_CONFIG=/x", "RRPCD_BIN=/y"});
    REQUIRE(o.size() == 4);  // PATH, RRPCD_CONFIG and RRPCD_BIN are not settings
    CHECK(o[0].key == "mqtt.listen");
    CHECK(o[0].origin == "environment RRPCD_MQTT__LISTEN");
    CHECK(o[1].key == "access_keys.0.id");
    CHECK(o[3].key == "replies.webhooks.0.url");
    const auto s = load_string(
                       "[mqtt]\nlisten = \"127.0.0.1:1\"\n[[access_keys]]\nid = \"f\"\n"
                       "secret = \"file\"\n[[replies.webhooks]]\nurl = \"http://file/x\"\n"
                       "secret = \"hook-secret\"\n",
                       "f.toml", ".", o)
                       .value();
    CHECK(s.mqtt.listen->port == 1884);  // the environment wins over the file
    REQUIRE(s.access_keys.size() == 1);
    CHECK(s.access_keys[0].id == "LTAIenv");
    CHECK(s.access_keys[0].secret == "s");
    REQUIRE(s.replies.webhooks.size() == 1);
    CHECK(s.replies.webhooks[0].url ==
          "http://u:p@h:1/x");  // the environment's URL, the file's secret
    // Integers are integers; a later override wins (flags come after the environment).
    const auto n = load_string("", "f.toml", ".",
                               {{"mqtt.max_subscriptions", "77", "environment X"},
                                {"mqtt.max_subscriptions", "78", "--set mqtt.max_subscriptions"}})
                       .value();
    CHECK(n.mqtt.max_subscriptions == 78);
}

TEST_CASE("an override that is wrong names where it came from", "[config]") {
    CHECK(env_error({"RRPCD_MQTT_LISTEN=1"}) ==
          "environment RRPCD_MQTT_LISTEN: not a setting; a section and its key are joined by two "
          "underscores (RRPCD_MQTT__LISTEN)");
    CHECK(load_error_of("", env({"RRPCD_MQTT__NOPE=1"})) ==
          "environment RRPCD_MQTT__NOPE: mqtt.nope: not a setting");
    CHECK(load_error_of("", env({"RRPCD_MQTT__MAX_SUBSCRIPTIONS=many"})) ==
          "environment RRPCD_MQTT__MAX_SUBSCRIPTIONS: mqtt.max_subscriptions: expected an integer");
    CHECK(load_error_of("", env({"RRPCD_MQTT__MAX_SUBSCRIPTIONS=0"})) ==
          "environment RRPCD_MQTT__MAX_SUBSCRIPTIONS: mqtt.max_subscriptions: must be between 1 "
          "and 1000000");
    CHECK(load_error_of("", env({"RRPCD_ACCESS_KEYS__1__ID=x"})) ==
          "environment RRPCD_ACCESS_KEYS__1__ID: access_keys.1.id: index 1 leaves a gap: the "
          "array has 0 tables");
    CHECK(load_error_of("", env({"RRPCD_ACCESS_KEYS__0__COLOUR=x"})) ==
          "environment RRPCD_ACCESS_KEYS__0__COLOUR: access_keys.0.colour: not a key of "
          "[[access_keys]]");
    CHECK(load_error_of("", {{"http.listen", "nowhere", "--set http.listen"}})
              .starts_with("--set http.listen: http.listen: expected an IP address and port"));
}

TEST_CASE("…_FILE reads a secret from a file, trailing newline cut, tls.key_file stays a key",
          "[config]") {
    const auto path = std::string{"/tmp/rrpcd-unit-secret-"} + std::to_string(::getpid());
    std::ofstream{path} << "from-file\n";
    const auto o =
        env({"RRPCD_ACCESS_KEYS__0__SECRET_FILE=" + path, "RRPCD_TLS__KEY_FILE=/etc/k.pem"});
    std::remove(path.c_str());
    REQUIRE(o.size() == 2);
    CHECK(o[0].key == "access_keys.0.secret");
    CHECK(o[0].value == "from-file");
    CHECK(o[1].key == "tls.key_file");
    CHECK(o[1].value == "/etc/k.pem");
    CHECK(env_error({"RRPCD_METRICS__TOKEN_FILE=/nonexistent/t"}) ==
          "environment RRPCD_METRICS__TOKEN_FILE: cannot read /nonexistent/t: No such file or "
          "directory");
}

TEST_CASE("…_FILE is for secrets only, and reads a regular file of bounded size", "[config]") {
    // An id, a URL or a listen address from a file would be printed by --print-config.
    CHECK(env_error({"RRPCD_ACCESS_KEYS__0__ID_FILE=/etc/hostname"}) ==
          "environment RRPCD_ACCESS_KEYS__0__ID_FILE: only a secret (secret, device_secret, "
          "token, password) is read from a file");
    CHECK(env_error({"RRPCD_REPLIES__WEBHOOKS__0__URL_FILE=/etc/hostname"})
              .ends_with("is read from a file"));
    // A device never ends, a FIFO would block the start: refused before they are opened.
    CHECK(env_error({"RRPCD_ACCESS_KEYS__0__SECRET_FILE=/dev/zero"}) ==
          "environment RRPCD_ACCESS_KEYS__0__SECRET_FILE: /dev/zero is not a regular file");
    const auto fifo = std::string{"/tmp/rrpcd-unit-fifo-"} + std::to_string(::getpid());
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(env_error({"RRPCD_METRICS__TOKEN_FILE=" + fifo}).ends_with("is not a regular file"));
    std::remove(fifo.c_str());
    const auto big = std::string{"/tmp/rrpcd-unit-big-"} + std::to_string(::getpid());
    std::ofstream{big} << std::string(70'000, 's');
    CHECK(env_error({"RRPCD_DEVICES__0__DEVICE_SECRET_FILE=" + big})
              .ends_with("is larger than 65536 bytes"));
    std::remove(big.c_str());
    // The config file itself: a regular file.
    CHECK(load_file("/dev/zero").error().message == "/dev/zero is not a regular file");
}

TEST_CASE("the effective settings (--print-config) mask every secret, token and URL password",
          "[config]") {
    const auto text =
        effective_toml("[[access_keys]]\nid = \"k\"\nsecret = \"hunter2\"\n", "f.toml",
                       {{"metrics.token", "tok3n", "x"},
                        {"replies.webhooks.0.url", "http://user:pa55@h:1/x", "x"},
                        {"replies.webhooks.0.secret", "whs3cret", "x"},
                        {"devices.0.device_secret", "devs3cret", "x"}})
            .value();
    for (const auto* secret : {"hunter2", "tok3n", "pa55", "whs3cret", "devs3cret"})
        CHECK(text.find(secret) == std::string::npos);
    CHECK(text.find("http://user:********@h:1/x") != std::string::npos);
    CHECK(text.find("id = 'k'") != std::string::npos);
}

TEST_CASE("published credentials are refused on a listener beyond loopback", "[config]") {
    auto demo = embedded_default().value();
    CHECK_FALSE(public_credential_problem(demo));  // loopback only
    demo.http.listen->host = "0.0.0.0";
    CHECK(public_credential_problem(demo).value().starts_with(
        "access key LTAIrrpcdDemoKey has a published demo secret and a listener is on "
        "0.0.0.0:8080"));
    demo.access_keys[0].secret = "a-real-one";
    CHECK(
        public_credential_problem(demo).value().starts_with("device a1demo/dev1 has a published"));
    demo.devices[0].device_secret = "another-real-one";
    CHECK_FALSE(public_credential_problem(demo));
    auto v6 = embedded_default().value();
    v6.mqtt.listen->host = "::1";
    CHECK_FALSE(public_credential_problem(v6));
    v6.mqtt.listen->host = "::";
    CHECK(public_credential_problem(v6));
}

TEST_CASE("a directory given as the config file is an error that says so", "[config]") {
    CHECK(load_file("/tmp").error().message ==
          "/tmp: is a directory; give the config file (rrpcd.toml)");
}

TEST_CASE("the command line", "[config]") {
    using command = command_line::command;
    const auto parse = [](std::initializer_list<std::string_view> a) {
        const std::vector<std::string_view> args(a);
        return parse_command_line(args);
    };
    const auto ok = [&](std::initializer_list<std::string_view> a) {
        auto r = parse(a);
        REQUIRE(r);
        return *r;
    };
    CHECK(ok({}).what == command::run);
    const auto run =
        ok({"--config", "x.toml", "--set", "mqtt.listen=127.0.0.1:1", "--set", "log.level=debug"});
    CHECK(run.config_path == "x.toml");
    REQUIRE(run.sets.size() == 2);
    CHECK(run.sets[0].key == "mqtt.listen");
    CHECK(run.sets[0].value == "127.0.0.1:1");
    CHECK(run.sets[0].origin == "--set mqtt.listen");
    CHECK(ok({"--print-config"}).what == command::print_config);
    CHECK(ok({"--check-config"}).what == command::check_config);
    CHECK(ok({"--version"}).what == command::version);
    const auto health = ok({"health", "--url", "http://127.0.0.1:1/readyz"});
    CHECK(health.what == command::health);
    CHECK(health.url == "http://127.0.0.1:1/readyz");
    CHECK(parse({"--config"}).error() == "--config needs a value");
    CHECK(parse({"--set", "novalue"}).error() == "--set novalue: expected SECTION.KEY=VALUE");
    CHECK(parse({"--url", "x"}).error() == "unknown argument --url");  // health only
    CHECK(parse({"--bogus"}).error() == "unknown argument --bogus");
}

TEST_CASE(
    "the printed default configuration is what the demo runs, the model a file of the repository",
    "[config]") {
    // The printed TOML, loaded from the repository's root (where models/a1demo.json is), gives
    // the embedded default's settings, thing model included.
    const auto printed =
        load_string(embedded_default_toml(), "printed.toml", RRPCD_TEST_DATA_DIR "/../..").value();
    const auto embedded = embedded_default().value();
    REQUIRE(embedded.products.size() == 1);
    CHECK(printed.products == embedded.products);
    CHECK(printed.devices == embedded.devices);
    CHECK(printed.access_keys == embedded.access_keys);
    CHECK(embedded.products[0].tsl_json[0].find("\"Echo\"") != std::string::npos);
}

TEST_CASE("webhooks take http:// and https:// URLs, ca_file only with https, and there",
          "[config]") {
    const auto dir = std::filesystem::temp_directory_path() / "rrpcd-webhook-ca-test";
    std::filesystem::create_directories(dir);
    std::ofstream{dir / "ca.pem"} << "-----BEGIN CERTIFICATE-----\n";
    const auto hook = [&](std::string_view url, std::string_view more = "") {
        return load_string("[[replies.webhooks]]\nurl = \"" + std::string{url} +
                               "\"\nsecret = \"s\"\n" + std::string{more},
                           "w.toml", dir);
    };
    const auto tls = hook("https://h:8443/x", "ca_file = \"ca.pem\"\n").value();
    CHECK(tls.replies.webhooks[0].ca_file == dir / "ca.pem");
    // A ca_file that is not there is a configuration error (--check-config says so), not a
    // webhook failing at its first delivery.
    CHECK(hook("https://h:8443/x", "ca_file = \"missing.pem\"\n")
              .error()
              .message.ends_with((dir / "missing.pem").string() +
                                 " is not a readable file (No such file or directory)"));
    CHECK(tls.replies.webhook_retry == std::chrono::seconds{3600});
    CHECK(hook("http://h/x"));
    CHECK(hook("ftp://h/x").error().message.ends_with("expected an http:// or https:// URL"));
    CHECK(hook("http://h/x", "ca_file = \"ca.pem\"\n")
              .error()
              .message.ends_with("replies.webhooks[0].ca_file: only for an https:// URL"));
}
