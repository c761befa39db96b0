#include "config/cli.hpp"

namespace rrpcd::config {

std::string_view usage() noexcept {
    return "usage: rrpcd [--config FILE] [--set SECTION.KEY=VALUE]... [--check-config]\n"
           "             [--print-config] [--print-default-config] [--version]\n"
           "       rrpcd health [--url URL] [--insecure] [--config FILE] [--set "
           "SECTION.KEY=VALUE]...\n"
           "       rrpcd hash-password < password-file\n"
           "  --config FILE           settings from a TOML file (default: $RRPCD_CONFIG, else the\n"
           "                          embedded demo)\n"
           "  --set KEY=VALUE         one setting, over the file and the environment\n"
           "                          (RRPCD_<SECTION>__<KEY>), e.g. --set "
           "mqtt.listen=127.0.0.1:1884\n"
           "  --check-config          validate the settings and exit\n"
           "  --print-config          print the effective settings, every default included\n"
           "                          (secrets masked), and exit\n"
           "  --print-default-config  print the embedded default configuration and exit\n"
           "  health                  GET the readiness probe: the configured listener's /readyz\n"
           "                          (http.listen, else https on http.tls_listen, trusting the\n"
           "                          configured certificate), or --url (http or https; a base\n"
           "                          URL means its /readyz; --insecure: no certificate check);\n"
           "                          exit 0 when ready, 1 when not (an image's HEALTHCHECK)\n"
           "  hash-password           read a password (asked twice on a terminal, else the first\n"
           "                          line of stdin) and print its scrypt hash for\n"
           "                          [[console.users]] password_hash\n";
}

boost::system::result<command_line, std::string> parse_command_line(
    std::span<const std::string_view> args) {
    command_line out;
    std::size_t i = 0;
    if (!args.empty() && args[0] == "hash-password") {
        if (args.size() > 1)
            return "hash-password takes no arguments (the password is read from stdin)";
        out.what = command_line::command::hash_password;
        return out;
    }
    if (!args.empty() && args[0] == "health") {
        out.what = command_line::command::health;
        ++i;
    }
    std::string missing;
    const auto value = [&](std::string_view flag) -> std::optional<std::string> {
        if (i + 1 < args.size()) return std::string{args[++i]};
        missing = std::string{flag} + " needs a value";
        return std::nullopt;
    };
    for (; i < args.size(); ++i) {
        const auto arg = args[i];
        const bool health = out.what == command_line::command::health;
        if (arg == "--config") {
            auto v = value(arg);
            if (!v) return missing;
            out.config_path = std::move(*v);
        } else if (arg == "--url" && health) {
            auto v = value(arg);
            if (!v) return missing;
            out.url = std::move(*v);
        } else if (arg == "--insecure" && health) {
            out.insecure = true;
        } else if (arg == "--set") {
            auto v = value(arg);
            if (!v) return missing;
            const auto eq = v->find('=');
            if (eq == std::string::npos || eq == 0)
                return "--set " + *v + ": expected SECTION.KEY=VALUE";
            out.sets.push_back({v->substr(0, eq), v->substr(eq + 1), "--set " + v->substr(0, eq)});
        } else if (arg == "--help" || arg == "-h") {
            out.what = command_line::command::help;
        } else if (!health && out.what == command_line::command::run &&
                   (arg == "--check-config" || arg == "--print-config" ||
                    arg == "--print-default-config" || arg == "--version")) {
            out.what = arg == "--check-config"   ? command_line::command::check_config
                       : arg == "--print-config" ? command_line::command::print_config
                       : arg == "--version"      ? command_line::command::version
                                                 : command_line::command::print_default_config;
        } else {
            return "unknown argument " + std::string{arg};
        }
    }
    return out;
}

}  // namespace rrpcd::config
