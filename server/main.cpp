#include "config/settings.hpp"
#include "server/app.hpp"
#include "server/thing_models.hpp"
#include "server/tls.hpp"

#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>

namespace {

constexpr const char* usage =
    "usage: rrpcd [--config FILE] [--check-config] [--print-default-config] [--version]\n"
    "  --config FILE           read settings from a TOML file (default: the embedded demo)\n"
    "  --check-config          validate the settings and exit\n"
    "  --print-default-config  print the embedded default configuration and exit\n";

}  // namespace

int main(int argc, char** argv) {
    std::optional<std::string> config_path;
    bool check_only = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--config" && i + 1 < argc)
            config_path = argv[++i];
        else if (arg == "--check-config")
            check_only = true;
        else if (arg == "--print-default-config") {
            std::fwrite(rrpcd::config::embedded_default_toml().data(), 1,
                        rrpcd::config::embedded_default_toml().size(), stdout);
            return 0;
        } else if (arg == "--version") {
            std::puts("rrpcd 0.1.0");
            return 0;
        } else {
            std::fputs(arg == "--help" || arg == "-h"
                           ? usage
                           : (std::string{"rrpcd: unknown argument "} + arg + "\n" + usage).c_str(),
                       arg == "--help" || arg == "-h" ? stdout : stderr);
            return arg == "--help" || arg == "-h" ? 0 : 2;
        }
    }

    auto settings =
        config_path ? rrpcd::config::load_file(*config_path) : rrpcd::config::embedded_default();
    if (!settings) {
        std::fprintf(stderr, "rrpcd: configuration error: %s\n", settings.error().message.c_str());
        return 2;
    }
    auto models = rrpcd::server::load_thing_models(*settings);
    if (!models) {
        std::fprintf(stderr, "rrpcd: configuration error: %s%s\n",
                     config_path ? (*config_path + ": ").c_str() : "", models.error().c_str());
        return 2;
    }
    rrpcd::server::tls_context tls;
    if (settings->mqtt.tls_listen || settings->http.tls_listen) {
        auto loaded = rrpcd::server::make_tls_context(settings->tls);
        if (!loaded) {
            std::fprintf(stderr, "rrpcd: configuration error: %s\n", loaded.error().c_str());
            return 2;
        }
        tls = std::move(*loaded);
    }
    if (check_only) {
        std::puts("configuration OK");
        return 0;
    }
    try {
        rrpcd::server::app app{
            std::move(*settings), std::move(*models), std::move(tls),
            config_path ? std::optional<std::filesystem::path>{*config_path} : std::nullopt};
        if (!app.start()) return 1;
        return app.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rrpcd: fatal: %s\n", e.what());
        return 1;
    }
}
