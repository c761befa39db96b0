#include "server/app.hpp"
#include "rrpc/use_nothrow.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>
#include <cstdio>

namespace rrpcd::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::shared_ptr<spdlog::logger> make_logger(const char* name, const spdlog::sink_ptr& sink,
                                            const std::string& level) {
    auto log = std::make_shared<spdlog::logger>(name, sink);
    log->set_level(spdlog::level::from_str(level));
    log->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n %v");
    return log;
}

std::vector<http::access_key_entry> access_keys_of(const config::settings& s) {
    std::vector<http::access_key_entry> keys;
    for (const auto& k : s.access_keys) keys.push_back({k.id, k.secret, k.qps});
    return keys;
}

http::api_limits api_limits_of(const config::settings& s) {
    // The largest payload that still fits one MQTT packet with its topic and headers.
    constexpr std::size_t topic_room = 512;
    return {s.rrpc.timeout_min, s.rrpc.timeout_max, s.thing.sync_timeout,
            s.mqtt.max_packet_size > topic_room ? s.mqtt.max_packet_size - topic_room : 0};
}

/// Logs what escapes a session coroutine; the session ends, the process does not.
struct log_exception {
    std::shared_ptr<spdlog::logger> log;
    void operator()(const std::exception_ptr& e) const {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            log->error("event=session_failed what=\"{}\"", ex.what());
        }
    }
};

bool bind(tcp::acceptor& acceptor, const config::endpoint& where, spdlog::logger& log,
          const char* name) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(where.host, ec);
    const tcp::endpoint ep{address, where.port};
    if (!ec) acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        log.critical("event=listen_failed listener={} address={}:{} reason=\"{}\"", name,
                     where.host, where.port, ec.message());
    return !ec;
}

std::string bound(const tcp::acceptor& acceptor) {
    const auto ep = acceptor.local_endpoint();
    return (ep.address().is_v6() ? "[" + ep.address().to_string() + "]"
                                 : ep.address().to_string()) +
           ":" + std::to_string(ep.port());
}

/// Accepts connections and starts `serve` for each; an accept error (out of descriptors, say)
/// pauses briefly instead of spinning.
template <class Context>
asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, Context& ctx,
                                  asio::awaitable<void> (*serve)(tcp::socket, Context&),
                                  spdlog::logger& log) {
    asio::steady_timer pause{acceptor.get_executor()};
    while (acceptor.is_open()) {
        auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
        if (ec == asio::error::operation_aborted) break;
        if (ec) {
            log.warn("event=accept_failed reason=\"{}\"", ec.message());
            pause.expires_after(std::chrono::milliseconds{100});
            co_await pause.async_wait(use_nothrow);
            continue;
        }
        asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), ctx),
                       log_exception{ctx.log});
    }
}

}  // namespace

app::app(config::settings settings, http::thing_models models)
    : settings_(std::move(settings)),
      server_log_(make_logger("server", std::make_shared<spdlog::sinks::stderr_color_sink_st>(),
                              settings_.log_level)),
      mqtt_log_(make_logger("mqtt", server_log_->sinks().front(), settings_.log_level)),
      http_log_(make_logger("http", server_log_->sinks().front(), settings_.log_level)),
      rrpc_log_(make_logger("rrpc", server_log_->sinks().front(), settings_.log_level)),
      models_(std::move(models)),
      ids_(settings_.rrpc.node_id),
      calls_(settings_.replies.retention, settings_.replies.max_records),
      rrpc_(registry_, ids_, calls_, rrpc_log_),
      async_(registry_, calls_, replies_, devices_, rrpc_log_),
      auth_(access_keys_of(settings_), settings_.http.signature_window),
      api_(api_limits_of(settings_), auth_, {rrpc_, async_, calls_, registry_, devices_, models_},
           http_log_),
      mqtt_ctx_{settings_.mqtt, devices_, registry_, rrpc_, async_, mqtt_log_},
      // gate_ is declared (and built) after http_ctx_: only its address is taken here.
      http_ctx_{settings_.http, api_, replies_, settings_.replies.max_queued, gate_, http_log_} {
    for (const auto& d : settings_.devices)
        devices_.add({{d.product_key, d.device_name}, d.device_secret, {}});
    for (const auto& hook : settings_.replies.webhooks)
        webhooks_.push_back(std::make_unique<webhook_sender>(
            io_.get_executor(), hook, settings_.replies.max_queued, replies_, server_log_));
}

bool app::start() {
    if (!bind(mqtt_acceptor_, settings_.mqtt.listen, *server_log_, "mqtt") ||
        !bind(http_acceptor_, settings_.http.listen, *server_log_, "http"))
        return false;
    for (auto& hook : webhooks_) hook->start();
    asio::co_spawn(io_, accept_mqtt(), log_exception{server_log_});
    asio::co_spawn(io_, accept_http(), log_exception{server_log_});
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
        if (!ec) asio::co_spawn(io_, shut_down(signal), log_exception{server_log_});
    });
    server_log_->info("event=started devices={} access_keys={} thing_models={} webhooks={}",
                      devices_.size(), settings_.access_keys.size(), models_.size(),
                      webhooks_.size());
    print_banner();
    return true;
}

int app::run() {
    io_.run();
    return 0;
}

asio::awaitable<void> app::shut_down(int signal) {
    server_log_->info("event=stopping signal={} in_flight={} devices={}", signal, gate_.in_flight(),
                      registry_.online());
    boost::system::error_code ignored;
    mqtt_acceptor_.close(ignored);
    http_acceptor_.close(ignored);
    gate_.stop();
    co_await gate_.wait_idle(settings_.http.shutdown_grace);  // devices stay connected to answer
    if (const auto cancelled = rrpc_.cancel_all(); cancelled != 0) {
        server_log_->warn("event=calls_cancelled count={} reason=shutdown", cancelled);
        co_await gate_.wait_idle(std::chrono::seconds{1});  // their UNKNOWN answers go out
    }
    registry_.close_all();
    asio::steady_timer flush{io_, std::chrono::milliseconds{200}};  // the sessions' last bytes
    co_await flush.async_wait(use_nothrow);
    server_log_->info("event=stopped");
    io_.stop();
}

asio::awaitable<void> app::accept_mqtt() {
    co_await accept_loop(mqtt_acceptor_, mqtt_ctx_, &run_mqtt_session, *mqtt_log_);
}

asio::awaitable<void> app::accept_http() {
    co_await accept_loop(http_acceptor_, http_ctx_, &run_http_session, *http_log_);
}

void app::print_banner() const {
    // The ready line is the contract with scripts and tests: they wait for it on stdout.
    std::printf("rrpcd ready mqtt=%s http=%s\n", bound(mqtt_acceptor_).c_str(),
                bound(http_acceptor_).c_str());
    if (settings_.demo && !settings_.devices.empty() && !settings_.access_keys.empty()) {
        const auto& d = settings_.devices.front();
        const auto& k = settings_.access_keys.front();
        std::printf(
            "\nDemo configuration (public credentials, loopback only):\n"
            "  device      productKey=%s deviceName=%s deviceSecret=%s\n"
            "  access key  AccessKeyId=%s AccessKeySecret=%s\n\n"
            "Try it from another terminal (official Alibaba SDKs, installed by the run script):\n"
            "  node examples/demo-device.mjs &      # the device answers every RRPC request\n"
            "  node examples/demo-call.mjs hello    # RRpc through @alicloud/iot20180120\n\n",
            d.product_key.c_str(), d.device_name.c_str(), d.device_secret.c_str(), k.id.c_str(),
            k.secret.c_str());
    }
    std::fflush(stdout);
}

}  // namespace rrpcd::server
