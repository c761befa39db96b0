#include "server/app.hpp"
#include "kit/logfmt.hpp"
#include "kit/unix_ms.hpp"

#include "kit/use_nothrow.hpp"
#include "server/log_format.hpp"
#include "server/thing_models.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <boost/asio/co_spawn.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <tuple>
#include <vector>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace rrpcd::server {

namespace asio = boost::asio;

namespace {

std::shared_ptr<spdlog::logger> make_logger(const char* name, const spdlog::sink_ptr& sink,
                                            const std::string& level) {
    auto log = std::make_shared<spdlog::logger>(name, sink);
    log->set_level(spdlog::level::from_str(level));
    return log;
}

/// Tells the service manager `state` (READY=1, STOPPING=1, RELOADING=1) when it asked to be
/// told ($NOTIFY_SOCKET, systemd's Type=notify); nothing otherwise. `@` names an abstract socket.
void notify_service_manager(std::string_view state) {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (path == nullptr || (path[0] != '/' && path[0] != '@')) return;
    sockaddr_un address{};
    const auto length = std::strlen(path);
    if (length >= sizeof address.sun_path) return;
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path, length);
    if (path[0] == '@') address.sun_path[0] = '\0';
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    (void)::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                   reinterpret_cast<const sockaddr*>(&address),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length));
    ::close(fd);
}

loggers make_loggers(const std::string& level, const std::string& format) {
    const auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(make_log_formatter(format));
    return {make_logger("server", sink, level), make_logger("mqtt", sink, level),
            make_logger("http", sink, level), make_logger("rrpc", sink, level)};
}

}  // namespace

app::app(config::settings settings, catalog::thing_models models, tls_context tls,
         std::optional<std::filesystem::path> config_path,
         std::vector<config::override_value> overrides)
    : settings_(std::make_shared<const config::settings>(std::move(settings))),
      config_path_(std::move(config_path)),
      overrides_(std::move(overrides)),
      tls_(std::move(tls)),
      log_(make_loggers(settings_->log_level, settings_->log_format)),
      node_(std::make_unique<node>(settings_, std::move(models), log_)) {}

bool app::start() {
    if (auto opened = node_->open(); !opened) {
        log_.server->critical(
            "event={} reason={}",
            opened.error().starts_with("cluster:") ? "cluster_failed" : "store_failed",
            kit::logfmt_value(opened.error(), 1024));
        return false;
    }
    const std::pair<const char*, const std::optional<config::endpoint>*> wanted[] = {
        {"mqtt", &settings_->mqtt.listen}, {"mqtts", &settings_->mqtt.tls_listen},
        {"http", &settings_->http.listen}, {"https", &settings_->http.tls_listen},
        {"amqp", &settings_->amqp.listen}, {"amqps", &settings_->amqp.tls_listen}};
    for (const auto& [name, where] : wanted) {
        if (!*where) continue;
        const bool tls = name[4] == 's';
        auto at = node_->listen(name, **where, tls ? tls_ : nullptr);
        if (!at) {
            log_.server->critical("event=listen_failed listener={} address={}:{} reason={}", name,
                                  (*where)->host, (*where)->port, kit::logfmt_value(at.error()));
            return false;
        }
        bound_.emplace_back(name, std::move(*at));
    }
    node_->start();
    signals_.emplace(node_->io(), SIGINT, SIGTERM, SIGHUP);
    // On the node's executor: a reload and the drain run where the node's own work runs.
    asio::co_spawn(node_->node_executor(), handle_signals(), log_exception{log_.server});
    log_.server->info(
        "event=started devices={} access_keys={} thing_models={} webhooks={} tls={} threads={}",
        node_->devices(), settings_->access_keys.size(), node_->thing_models(), node_->webhooks(),
        tls_ != nullptr, node_->planes());
    check_certificate();
    if (const auto warning = config::plain_console_warning(*settings_))
        log_.server->warn("event=console_on_plain_listener reason={}",
                          kit::logfmt_value(*warning, 512));
    print_banner();
    notify_service_manager("READY=1");
    return true;
}

int app::run() {
    // The last guard: a handler that throws ends its own work, never the process. Sessions catch
    // their own errors (co_spawn's log_exception), and parsers are run outside composed
    // operations; what still escapes is logged (once per burst) and counted, and the loop goes on
    // (Asio: run() may be called again after an exception, without restart()).
    std::atomic<std::uint64_t> escaped{0};
    const auto serve = [&] {
        for (;;) {
            try {
                node_->io().run();
                return;
            } catch (const std::exception& e) {
                const auto n = ++escaped;
                if ((n & (n - 1)) == 0)  // the 1st, 2nd, 4th, 8th…
                    log_.server->error("event=handler_failed what={} count={}",
                                       kit::logfmt_value(e.what()), n);
                node_->count_escaped();
            }
        }
    };
    // One io thread per device plane, this one included; they end together at stop().
    std::vector<std::thread> others;
    for (std::size_t i = 1; i < node_->planes(); ++i) others.emplace_back(serve);
    serve();
    for (auto& t : others) t.join();
    return 0;
}

asio::awaitable<void> app::handle_signals() {
    for (;;) {
        const auto [ec, signal] = co_await signals_->async_wait(kit::use_nothrow);
        if (ec) co_return;
        if (signal == SIGHUP) {
            reload();
            continue;
        }
        // New calls and readiness refused before the line says so (a client that sees it may
        // act at once, from another thread's connection).
        node_->stop_taking();
        log_.server->info("event=stopping signal={}", signal);
        notify_service_manager("STOPPING=1");
        // SIGTERM (a service manager, an orchestrator) lingers for the grace; SIGINT (a person
        // at a terminal) ends once nothing is in flight.
        co_await node_->drain(settings_->http.shutdown_grace, signal == SIGTERM);
        log_.server->info("event=stopped");
        node_->io().stop();
        co_return;
    }
}

void app::reload() {
    if (!config_path_) {
        log_.server->warn("event=reload_refused reason=\"the embedded default has no file\"");
        return;
    }
    auto next = config::load_file(*config_path_, overrides_);
    if (!next) {
        log_.server->error("event=reload_refused reason={}",
                           kit::logfmt_value(next.error().message, 1024));
        return;
    }
    if (auto problem = config::public_credential_problem(*next)) {
        log_.server->error("event=reload_refused reason={}", kit::logfmt_value(*problem, 1024));
        return;
    }
    if (auto models = load_thing_models(*next); !models) {
        log_.server->error("event=reload_refused reason={}",
                           kit::logfmt_value(models.error(), 1024));
        return;
    }
    auto tls = tls_;
    if (tls_ && next->tls.configured()) {
        auto loaded = make_tls_context(next->tls);
        if (!loaded) {
            log_.server->error("event=reload_refused reason={}",
                               kit::logfmt_value(loaded.error(), 1024));
            return;
        }
        tls = std::move(*loaded);
    }
    if (const auto keys = config::restart_keys(*settings_, *next); !keys.empty()) {
        std::string list;
        for (const auto& k : keys) list += (list.empty() ? "" : ",") + k;
        log_.server->warn("event=reload_needs_restart keys={}", list);
    }
    // One path for every setting: the next snapshot is the running one with the live keys of the
    // file; what reads settings at each use reads it from now on.
    auto merged = std::make_shared<config::settings>(*settings_);
    config::apply_live(*next, *merged);
    settings_ = std::move(merged);
    const auto& s = *settings_;
    tls_ = std::move(tls);
    node_->reloaded(settings_, tls_);
    for (const auto& log : {log_.server, log_.mqtt, log_.http, log_.rrpc})
        log->set_level(spdlog::level::from_str(s.log_level));
    log_.server->info("event=reloaded access_keys={} log_level={} tls={}", s.access_keys.size(),
                      s.log_level, tls_ != nullptr);
    check_certificate();
}

void app::check_certificate() const {
    const auto not_after = certificate_not_after(tls_);
    if (!not_after) return;
    const auto e = expiry_of(*not_after, kit::unix_ms() / 1000);
    using state = certificate_expiry::state;
    if (e.verdict == state::expired)
        log_.server->error("event=tls_cert_expired file={} expired_days_ago={}",
                           kit::logfmt_value(settings_->tls.cert_file.string()),
                           -e.seconds_left / 86400);
    else if (e.verdict == state::expiring)
        log_.server->warn("event=tls_cert_expiring file={} days_left={}",
                          kit::logfmt_value(settings_->tls.cert_file.string()),
                          e.seconds_left / 86400);
}

void app::print_banner() const {
    // The ready line is the contract with scripts and tests: they wait for it on stdout. The
    // plain MQTT and HTTP listeners are always named (`off` when turned off); TLS and AMQP ones
    // when they are on.
    std::string line = "rrpcd ready";
    for (const char* name : {"mqtt", "http", "mqtts", "https", "amqp", "amqps"}) {
        const auto it = std::find_if(bound_.begin(), bound_.end(), [&](const auto& b) {
            return std::strcmp(b.first, name) == 0;
        });
        if (it != bound_.end())
            line += std::string{" "} + name + "=" + it->second;
        else if (name[0] != 'a' && name[4] != 's')
            line += std::string{" "} + name + "=off";
    }
    std::printf("%s\n", line.c_str());
    if (settings_->demo && !settings_->devices.empty() && !settings_->access_keys.empty()) {
        const auto& d = settings_->devices.front();
        const auto& k = settings_->access_keys.front();
        const auto at = [&](const char* name) {
            const auto it = std::find_if(bound_.begin(), bound_.end(), [&](const auto& b) {
                return std::strcmp(b.first, name) == 0;
            });
            return it == bound_.end() ? std::string{"off"} : it->second;
        };
        std::error_code ec;
        const auto store = settings_->store.path.empty()
                               ? std::string{"none (memory only)"}
                               : std::filesystem::absolute(settings_->store.path, ec).string();
        std::printf(
            "\nDemo configuration (public credentials, loopback only):\n"
            "  device      productKey=%s deviceName=%s deviceSecret=%s\n"
            "  access key  AccessKeyId=%s AccessKeySecret=%s\n"
            "  store       %s\n\n"
            "Try it from another terminal (official Alibaba SDKs, installed by the run script):\n"
            "  node examples/demo-device.mjs mqtt://%s &   # answers every RRPC request\n"
            "  node examples/demo-call.mjs hello %s        # RRpc through "
            "@alicloud/iot20180120\n\n",
            d.product_key.c_str(), d.device_name.c_str(), d.device_secret.c_str(), k.id.c_str(),
            k.secret.c_str(), store.c_str(), at("mqtt").c_str(), at("http").c_str());
        if (settings_->console.enabled && at("http") != "off")
            std::printf("Or look: http://%s/console/ (sign in with the access key above)\n\n",
                        at("http").c_str());
    }
    std::fflush(stdout);
}

}  // namespace rrpcd::server
