#pragma once

#include "config/settings.hpp"

#include <boost/system/result.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rrpcd::config {

/// What the command line asks for.
struct command_line {
    enum class command : std::uint8_t {
        run,                   ///< serve
        check_config,          ///< --check-config: load, validate, exit
        print_config,          ///< --print-config: the effective settings, secrets masked
        print_default_config,  ///< --print-default-config: the embedded demo configuration
        version,               ///< --version
        help,                  ///< --help
        health,                ///< `health [--url URL]`: GET the readiness probe, exit 0 if ready
        hash_password,         ///< `hash-password`: a console user's password hash, from stdin
    };
    command what = command::run;
    std::optional<std::string> config_path;  ///< --config FILE (else RRPCD_CONFIG, else the demo)
    std::vector<override_value> sets;        ///< --set section.key=value, in order
    std::optional<std::string> url;          ///< health --url
    bool insecure = false;                   ///< health --insecure
};

/// Parses the arguments after the program name; the error is a message for the usage line.
boost::system::result<command_line, std::string> parse_command_line(
    std::span<const std::string_view> args);

/// The usage text (`--help`).
std::string_view usage() noexcept;

}  // namespace rrpcd::config
