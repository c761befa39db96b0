#include "config/cli.hpp"
#include "config/settings.hpp"
#include "kit/password.hpp"
#include "server/app.hpp"
#include "server/health_check.hpp"
#include "server/thing_models.hpp"
#include "server/tls.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <termios.h>
#include <unistd.h>

extern char** environ;

namespace {

int fail(const std::string& message, int code = 2) {
    std::fprintf(stderr, "rrpcd: %s\n", message.c_str());
    return code;
}

/// The readiness probe of the HTTP listener `s` names (a wildcard address asks loopback).
/// `rrpcd health`: --url as given (a base URL means its /readyz), else the configured listener.
int health(const rrpcd::config::command_line& cli, const rrpcd::config::settings& s) {
    using namespace rrpcd::server;
    if (cli.url) {
        const auto url = health_url(*cli.url);
        if (!url) {
            std::fprintf(stderr, "rrpcd health: %s\n", url.error().c_str());
            return 1;
        }
        return check_health({*url, {}, cli.insecure});
    }
    auto target = probe_target(s);
    if (!target) {
        std::fprintf(stderr, "rrpcd health: %s\n", target.error().c_str());
        return 1;
    }
    target->insecure = cli.insecure;
    return check_health(*target);
}

/// One line of stdin, without its line end; with echo off when stdin is a terminal.
std::optional<std::string> read_secret_line(const char* prompt) {
    const bool tty = ::isatty(STDIN_FILENO) == 1;
    termios saved{};
    if (tty) {
        std::fputs(prompt, stderr);
        ::tcgetattr(STDIN_FILENO, &saved);
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    std::string line;
    bool got = false;
    for (int c; line.size() <= 4096 && (c = std::fgetc(stdin)) != EOF;) {
        got = true;
        if (c == '\n') break;
        line += static_cast<char>(c);
    }
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        std::fputc('\n', stderr);
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!got) return std::nullopt;
    return line;
}

/// `rrpcd hash-password`: the password from stdin (twice on a terminal), its hash on stdout.
int hash_password() {
    const auto password = read_secret_line("Password: ");
    if (!password || password->empty()) return fail("hash-password: no password on stdin", 1);
    if (password->size() > 4096) return fail("hash-password: longer than 4096 bytes", 1);
    if (::isatty(STDIN_FILENO) == 1 && read_secret_line("Again: ") != password)
        return fail("hash-password: the two passwords differ", 1);
    std::printf("%s\n", rrpcd::kit::hash_password(*password).c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    namespace config = rrpcd::config;
    using command = config::command_line::command;
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    const auto cli = config::parse_command_line(args);
    if (!cli) {
        std::fprintf(stderr, "rrpcd: %s\n%s", cli.error().c_str(), config::usage().data());
        return 2;
    }
    switch (cli->what) {
        case command::help: std::fputs(config::usage().data(), stdout); return 0;
        case command::version: std::printf("rrpcd %s\n", RRPCD_VERSION); return 0;
        case command::hash_password: return hash_password();
        case command::print_default_config:
            std::fwrite(config::embedded_default_toml().data(), 1,
                        config::embedded_default_toml().size(), stdout);
            return 0;
        default: break;
    }

    // File < environment < flags.
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) environment.emplace_back(*e);
    auto overrides = config::environment_overrides(environment);
    if (!overrides) return fail("configuration error: " + overrides.error().message);
    overrides->insert(overrides->end(), cli->sets.begin(), cli->sets.end());
    auto config_path = cli->config_path;
    if (const char* from_env = std::getenv("RRPCD_CONFIG"); !config_path && from_env && *from_env)
        config_path = from_env;

    if (cli->what == command::print_config) {
        std::string text{config::embedded_default_toml()};
        if (config_path) {
            auto read = config::read_config_text(*config_path);
            if (!read) return fail("configuration error: " + read.error());
            text = std::move(*read);
        }
        const auto effective =
            config::effective_toml(text, config_path.value_or("<embedded default>"), *overrides);
        if (!effective) return fail("configuration error: " + effective.error().message);
        std::printf(
            "# the effective settings: %s, the environment and flags, over every default\n%s",
            config_path.value_or("<embedded default>").c_str(), effective->c_str());
        return 0;
    }

    auto settings = config_path ? config::load_file(*config_path, *overrides)
                                : config::embedded_default(*overrides);
    if (!settings) return fail("configuration error: " + settings.error().message);
    if (cli->what == command::health) return health(*cli, *settings);
    if (auto problem = config::public_credential_problem(*settings))
        return fail("refusing to start: " + *problem);
    if (settings->access_keys.empty())
        std::fprintf(stderr,
                     "rrpcd: warning: no access keys are configured: every API call will be "
                     "refused (add [[access_keys]], or RRPCD_ACCESS_KEYS__0__ID and "
                     "RRPCD_ACCESS_KEYS__0__SECRET)\n");
    auto models = rrpcd::server::load_thing_models(*settings);
    if (!models)
        return fail("configuration error: " + (config_path ? *config_path + ": " : "") +
                    models.error());
    rrpcd::server::tls_context tls;
    if (settings->mqtt.tls_listen || settings->http.tls_listen) {
        auto loaded = rrpcd::server::make_tls_context(settings->tls);
        if (!loaded) return fail("configuration error: " + loaded.error());
        tls = std::move(*loaded);
    }
    if (cli->what == command::check_config) {
        std::puts("configuration OK");
        return 0;
    }
    try {
        rrpcd::server::app app{
            std::move(*settings), std::move(*models), std::move(tls),
            config_path ? std::optional<std::filesystem::path>{*config_path} : std::nullopt,
            std::move(*overrides)};
        if (!app.start()) return 1;
        return app.run();
    } catch (const std::exception& e) {
        return fail(std::string{"fatal: "} + e.what(), 1);
    }
}
