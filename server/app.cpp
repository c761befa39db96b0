#include "server/app.hpp"
#include "kit/unix_ms.hpp"
#include "kit/use_nothrow.hpp"
#include "server/thing_models.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <tuple>

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

std::vector<config::access_key> access_keys_of(const config::settings& s) {
    std::vector<config::access_key> keys;
    for (const auto& k : s.access_keys) keys.push_back({k.id, k.secret, k.qps});
    return keys;
}

http::api_limits api_limits_of(const config::settings& s) {
    // The largest payload that still fits one MQTT packet with its topic and headers.
    constexpr std::size_t topic_room = 512;
    return {s.rrpc.timeout_min, s.rrpc.timeout_max, s.thing.sync_timeout,
            s.mqtt.max_packet_size > topic_room ? s.mqtt.max_packet_size - topic_room : 0,
            s.rrpc.max_pending_per_device};
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

/// The settings a reload cannot apply to a running server.
std::vector<std::string> needs_restart(const config::settings& now, const config::settings& next) {
    std::vector<std::string> keys;
    const auto check = [&](bool same, const char* key) {
        if (!same) keys.emplace_back(key);
    };
    check(now.mqtt.listen == next.mqtt.listen, "mqtt.listen");
    check(now.mqtt.tls_listen == next.mqtt.tls_listen, "mqtt.tls_listen");
    check(now.http.listen == next.http.listen, "http.listen");
    check(now.http.tls_listen == next.http.tls_listen, "http.tls_listen");
    check(now.http.signature_window == next.http.signature_window, "http.signature_window_s");
    check(now.rrpc.node_id == next.rrpc.node_id, "rrpc.node_id");
    check(now.store == next.store, "store");
    check(now.replies == next.replies, "replies");
    check(now.products == next.products, "products");
    check(now.devices == next.devices, "devices");
    return keys;
}

}  // namespace

app::app(config::settings settings, http::thing_models models, tls_context tls,
         std::optional<std::filesystem::path> config_path)
    : settings_(std::move(settings)),
      config_path_(std::move(config_path)),
      tls_(std::move(tls)),
      server_log_(make_logger("server", std::make_shared<spdlog::sinks::stderr_color_sink_st>(),
                              settings_.log_level)),
      mqtt_log_(make_logger("mqtt", server_log_->sinks().front(), settings_.log_level)),
      http_log_(make_logger("http", server_log_->sinks().front(), settings_.log_level)),
      rrpc_log_(make_logger("rrpc", server_log_->sinks().front(), settings_.log_level)),
      mqtt_connections_(settings_.mqtt.max_connections, settings_.mqtt.max_connections_per_address),
      http_connections_(settings_.http.max_connections, settings_.http.max_connections_per_address),
      backoff_(settings_.mqtt.login_backoff),
      journal_(open_journal(settings_, server_log_)),
      models_(std::move(models)),
      ids_(settings_.rrpc.node_id),
      calls_(settings_.replies.retention, settings_.replies.max_records),
      rrpc_(registry_, ids_, calls_, rrpc_log_),
      async_(registry_, calls_, replies_, devices_, rrpc_log_),
      auth_(access_keys_of(settings_), settings_.http.signature_window),
      api_(api_limits_of(settings_), auth_,
           {rrpc_, async_, calls_, registry_, devices_, models_, counters_, journal_.get(),
            [this](const catalog::device_key& d, bool forget) { registry_.disconnect(d, forget); }},
           http_log_),
      mqtt_ctx_{settings_.mqtt, devices_,  journal_.get(), registry_, rrpc_,
                async_,         counters_, backoff_,       mqtt_log_},
      // gate_ is declared (and built) after http_ctx_: only its address is taken here.
      http_ctx_{settings_.http,
                api_,
                replies_,
                settings_.replies.max_queued,
                gate_,
                counters_,
                [this] { return metrics(); },
                http_log_} {
    for (const auto& hook : settings_.replies.webhooks)
        webhooks_.push_back(std::make_unique<webhook_sender>(
            io_.get_executor(), hook, settings_.replies.max_queued, replies_, server_log_));
}

app::~app() {
    if (journal_.store) journal_.store->close();
}

app::journal_holder app::open_journal(const config::settings& settings,
                                      const std::shared_ptr<spdlog::logger>& log) {
    journal_holder j;
    if (settings.store.path.empty()) return j;
    auto opened =
        rrpcd::store::sqlite_store::open(settings.store.path, settings.replies.retention, log);
    if (opened)
        j.store = std::move(*opened);
    else
        j.error = std::move(opened.error());
    return j;
}

bool app::start() {
    if (!journal_.error.empty()) {
        server_log_->critical("event=store_failed reason=\"{}\"", journal_.error);
        return false;
    }
    if (journal_.store) {
        auto catalog = journal_.store->load_catalog();
        for (auto& p : catalog.products) devices_.add_product(std::move(p));
        for (auto& d : catalog.devices) devices_.add(std::move(d));
        auto kept = journal_.store->load_messages();
        for (auto& [device, message] : kept) registry_.restore(device, std::move(message));
        const auto calls = journal_.store->load_calls(settings_.replies.max_records);
        for (const auto& c : calls) async_.restore(calls_.add(c));
        server_log_->info(
            "event=store_opened path=\"{}\" products={} devices={} queued_messages={} "
            "async_calls={}",
            settings_.store.path.string(), catalog.products.size(), catalog.devices.size(),
            kept.size(), calls.size());
    }
    // Async calls outlive a restart (their answers come later); a sync caller has its answer.
    calls_.on_change = [this](const rrpc::call_record& r) {
        if (r.kind == rrpc::call_kind::async_rrpc || r.kind == rrpc::call_kind::thing_async)
            journal_.get().call_saved(r);
    };
    seed_from_config();
    const std::pair<const char*, const std::optional<config::endpoint>*> wanted[] = {
        {"mqtt", &settings_.mqtt.listen},
        {"mqtts", &settings_.mqtt.tls_listen},
        {"http", &settings_.http.listen},
        {"https", &settings_.http.tls_listen}};
    listeners_.reserve(std::size(wanted));  // accept() holds references into it
    for (const auto& [name, where] : wanted) {
        if (!*where) continue;
        auto& l = listeners_.emplace_back(listener{name, name[4] == 's', tcp::acceptor{io_}});
        if (!bind(l.acceptor, **where, *server_log_, name)) return false;
    }
    for (auto& hook : webhooks_) hook->start();
    for (auto& l : listeners_) asio::co_spawn(io_, accept(l), log_exception{server_log_});
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.add(SIGHUP);
    asio::co_spawn(io_, handle_signals(), log_exception{server_log_});
    server_log_->info("event=started devices={} access_keys={} thing_models={} webhooks={} tls={}",
                      devices_.size(), settings_.access_keys.size(), models_.size(),
                      webhooks_.size(), tls_ != nullptr);
    print_banner();
    return true;
}

int app::run() {
    io_.run();
    return 0;
}

std::vector<config::access_key> app::all_access_keys() const {
    auto keys = access_keys_of(settings_);
    for (const auto& k : store_keys_)
        if (std::none_of(keys.begin(), keys.end(), [&](const auto& c) { return c.id == k.id; }))
            keys.push_back(k);
    return keys;
}

void app::seed_from_config() {
    // Idempotent: what the file says wins for what it names; nothing unchanged is rewritten.
    const auto now = kit::unix_ms();
    auto& journal = journal_.get();
    const auto ensure_product = [&](const std::string& product_key) {
        if (devices_.find_product(product_key) != nullptr) return;
        catalog::product_record p{product_key, product_key, 0, 1, {}, now};
        journal.product_saved(p);
        devices_.add_product(std::move(p));
    };
    for (const auto& p : settings_.products) ensure_product(p.product_key);
    if (journal_.store) {
        rrpcd::store::sqlite_store::tsl_documents documents;
        for (const auto& p : settings_.products) documents[p.product_key] = p.tsl_json;
        journal_.store->seed_thing_models(std::move(documents));
        journal_.store->seed_access_keys(access_keys_of(settings_));
        store_keys_ = journal_.store->load_other_access_keys();
        for (const auto& [product_key, docs] : journal_.store->load_other_thing_models()) {
            if (models_.contains(product_key)) continue;  // the file's model wins
            auto& model = models_[product_key];
            for (const auto& doc : docs)
                if (auto added = catalog::add_tsl(doc, model); !added)
                    server_log_->error("event=thing_model_skipped pk={} reason=\"{}\"", product_key,
                                       added.error());
        }
        auth_.set_keys(all_access_keys());
    }
    for (const auto& d : settings_.devices) {
        ensure_product(d.product_key);
        const catalog::device_key key{d.product_key, d.device_name};
        const auto* existing = devices_.find(key);
        if (existing != nullptr && existing->secret == d.device_secret && existing->from_config)
            continue;
        catalog::device_record r{key, d.device_secret, {}};
        if (existing != nullptr) r = *existing;
        r.secret = d.device_secret;
        r.from_config = true;
        if (r.created_ms == 0) r.created_ms = now;
        journal.device_saved(devices_.add(std::move(r)));
    }
    // A device the file seeded and no longer names is gone; registered ones stay.
    std::vector<catalog::device_key> dropped;
    for (const auto& p : devices_.products())
        for (const auto* d : devices_.of_product(p))
            if (d->from_config && std::none_of(settings_.devices.begin(), settings_.devices.end(),
                                               [&](const auto& c) {
                                                   return c.product_key == d->key.product_key &&
                                                          c.device_name == d->key.device_name;
                                               }))
                dropped.push_back(d->key);
    for (const auto& key : dropped) {
        journal.device_deleted(key);
        devices_.remove(key);
        server_log_->info("event=device_unseeded pk={} dn={}", key.product_key, key.device_name);
    }
}

asio::awaitable<void> app::accept(listener& l) {
    const bool is_mqtt = l.name[0] == 'm';
    auto& limiter = is_mqtt ? mqtt_connections_ : http_connections_;
    auto& log = is_mqtt ? *mqtt_log_ : *http_log_;
    asio::steady_timer pause{io_};
    while (l.acceptor.is_open()) {
        auto [ec, socket] = co_await l.acceptor.async_accept(kit::use_nothrow);
        if (ec == asio::error::operation_aborted) break;
        if (ec) {  // out of descriptors, say: pause instead of spinning
            log.warn("event=accept_failed listener={} reason=\"{}\"", l.name, ec.message());
            pause.expires_after(std::chrono::milliseconds{100});
            co_await pause.async_wait(kit::use_nothrow);
            continue;
        }
        boost::system::error_code peer_ec;
        const auto from = socket.remote_endpoint(peer_ec).address();
        if (peer_ec) continue;  // gone already
        if (const auto verdict = limiter.admit(from);
            verdict != connection_limiter::verdict::admitted) {
            using enum kit::limit;
            const auto hit =
                verdict == connection_limiter::verdict::total
                    ? (is_mqtt ? mqtt_connections : http_connections)
                    : (is_mqtt ? mqtt_connections_per_address : http_connections_per_address);
            if (counters_.hit(hit))
                log.warn("event=limit_hit limit={} address={} open={} count={}", kit::name_of(hit),
                         from.to_string(), limiter.open(), counters_.count(hit));
            if (!is_mqtt &&
                !l.tls) {  // plain HTTP can be told why; MQTT has no word before CONNECT
                static const std::string busy = over_limit_response();
                socket.non_blocking(true, peer_ec);
                socket.write_some(asio::buffer(busy), peer_ec);  // best effort, never waits
            }
            continue;  // the socket closes here
        }
        connection_slot slot{limiter, from};
        auto tls = l.tls ? tls_ : nullptr;
        if (is_mqtt)
            asio::co_spawn(
                io_,
                run_mqtt_session(std::move(socket), mqtt_ctx_, std::move(tls), std::move(slot)),
                log_exception{mqtt_log_});
        else
            asio::co_spawn(
                io_,
                run_http_session(std::move(socket), http_ctx_, std::move(tls), std::move(slot)),
                log_exception{http_log_});
    }
}

asio::awaitable<void> app::handle_signals() {
    for (;;) {
        const auto [ec, signal] = co_await signals_.async_wait(kit::use_nothrow);
        if (ec) co_return;
        if (signal != SIGHUP) {
            co_await shut_down(signal);
            co_return;
        }
        reload();
    }
}

void app::reload() {
    if (!config_path_) {
        server_log_->warn("event=reload_refused reason=\"the embedded default has no file\"");
        return;
    }
    auto next = config::load_file(*config_path_);
    if (!next) {
        server_log_->error("event=reload_refused reason=\"{}\"", next.error().message);
        return;
    }
    if (auto models = load_thing_models(*next); !models) {
        server_log_->error("event=reload_refused reason=\"{}\"", models.error());
        return;
    }
    auto tls = tls_;
    if (tls_ && next->tls.configured()) {
        auto loaded = make_tls_context(next->tls);
        if (!loaded) {
            server_log_->error("event=reload_refused reason=\"{}\"", loaded.error());
            return;
        }
        tls = std::move(*loaded);
    }
    if (const auto keys = needs_restart(settings_, *next); !keys.empty()) {
        std::string list;
        for (const auto& k : keys) list += (list.empty() ? "" : ",") + k;
        server_log_->warn("event=reload_needs_restart keys={}", list);
    }
    // Limits are read where they apply (the contexts hold references into settings_), so the
    // next connection, packet or call sees the new values.
    auto& s = settings_;
    const auto keep_mqtt = std::pair{s.mqtt.listen, s.mqtt.tls_listen};
    const auto keep_http = std::pair{s.http.listen, s.http.tls_listen};
    const auto window = s.http.signature_window;
    s.mqtt = next->mqtt;
    std::tie(s.mqtt.listen, s.mqtt.tls_listen) = keep_mqtt;
    s.http = next->http;
    std::tie(s.http.listen, s.http.tls_listen) = keep_http;
    s.http.signature_window = window;
    s.rrpc.timeout_min = next->rrpc.timeout_min;
    s.rrpc.timeout_max = next->rrpc.timeout_max;
    s.rrpc.max_pending_per_device = next->rrpc.max_pending_per_device;
    s.thing = next->thing;
    s.access_keys = next->access_keys;
    s.log_level = next->log_level;
    s.tls = next->tls;
    tls_ = std::move(tls);  // sessions keep the context they started with
    if (journal_.store) journal_.store->seed_access_keys(access_keys_of(s));
    auth_.set_keys(all_access_keys());
    api_.set_limits(api_limits_of(s));
    for (const auto& log : {server_log_, mqtt_log_, http_log_, rrpc_log_})
        log->set_level(spdlog::level::from_str(s.log_level));
    server_log_->info("event=reloaded access_keys={} log_level={} tls={}", s.access_keys.size(),
                      s.log_level, tls_ != nullptr);
}

asio::awaitable<void> app::shut_down(int signal) {
    server_log_->info("event=stopping signal={} in_flight={} devices={}", signal, gate_.in_flight(),
                      registry_.online());
    boost::system::error_code ignored;
    for (auto& l : listeners_) l.acceptor.close(ignored);
    gate_.stop();
    co_await gate_.wait_idle(settings_.http.shutdown_grace);  // devices stay connected to answer
    if (const auto cancelled = rrpc_.cancel_all(); cancelled != 0) {
        server_log_->warn("event=calls_cancelled count={} reason=shutdown", cancelled);
        co_await gate_.wait_idle(std::chrono::seconds{1});  // their UNKNOWN answers go out
    }
    registry_.close_all();
    asio::steady_timer flush{io_, std::chrono::milliseconds{200}};  // the sessions' last bytes
    co_await flush.async_wait(kit::use_nothrow);
    server_log_->info("event=stopped");
    io_.stop();
}

std::string app::metrics() const {
    std::string out =
        "# HELP rrpcd_limit_hits_total Times a configured limit refused or ended something.\n"
        "# TYPE rrpcd_limit_hits_total counter\n";
    for (std::size_t i = 0; i < kit::limit_kinds; ++i) {
        const auto l = static_cast<kit::limit>(i);
        out += "rrpcd_limit_hits_total{limit=\"" + std::string{kit::name_of(l)} + "\"} " +
               std::to_string(counters_.count(l)) + "\n";
    }
    const auto gauge = [&](const char* name, const char* help, std::size_t value) {
        out += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " gauge\n" + name +
               " " + std::to_string(value) + "\n";
    };
    gauge("rrpcd_mqtt_connections", "Open MQTT connections.", mqtt_connections_.open());
    gauge("rrpcd_http_connections", "Open HTTP connections.", http_connections_.open());
    gauge("rrpcd_devices_online", "Devices with a live session.", registry_.online());
    gauge("rrpcd_calls_pending", "Calls waiting for a device's reply.", rrpc_.pending());
    gauge("rrpcd_login_backoff_entries",
          "Source address and username pairs with failed logins on record.", backoff_.tracked());
    const auto& st = rrpc_.stats();
    out += "# HELP rrpcd_calls_total RRPC calls by outcome.\n# TYPE rrpcd_calls_total counter\n";
    for (const auto& [code, n] : {std::pair{"SUCCESS", st.success},
                                  {"TIMEOUT", st.timeout},
                                  {"OFFLINE", st.offline},
                                  {"HALFCONN", st.halfconn}})
        out += std::string{"rrpcd_calls_total{code=\""} + code + "\"} " + std::to_string(n) + "\n";
    return out;
}

void app::print_banner() const {
    // The ready line is the contract with scripts and tests: they wait for it on stdout. The
    // plain listeners are always named (`off` when turned off); TLS ones when they are on.
    std::string line = "rrpcd ready";
    for (const char* name : {"mqtt", "http", "mqtts", "https"}) {
        const auto it = std::find_if(listeners_.begin(), listeners_.end(), [&](const listener& l) {
            return std::strcmp(l.name, name) == 0;
        });
        if (it != listeners_.end())
            line += std::string{" "} + name + "=" + bound(it->acceptor);
        else if (name[4] != 's')
            line += std::string{" "} + name + "=off";
    }
    std::printf("%s\n", line.c_str());
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
