#include "server/node.hpp"

#include "cluster/records.hpp"
#include "kit/crypto.hpp"
#include "kit/logfmt.hpp"
#include "kit/printable.hpp"

#include "kit/unix_ms.hpp"
#include "kit/use_nothrow.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdlib>
#include <exception>
#include <fstream>
#include <future>

#include <sched.h>
#include <unistd.h>
#include <thread>
#include <unordered_set>

namespace rrpcd::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::chrono::seconds id_floor_ahead{5};

std::string bound(const tcp::acceptor& acceptor) {
    const auto ep = acceptor.local_endpoint();
    return (ep.address().is_v6() ? "[" + ep.address().to_string() + "]"
                                 : ep.address().to_string()) +
           ":" + std::to_string(ep.port());
}

/// The store the settings name (opened before the services that write to it are made), or
/// null for memory only or on failure (`error` says why).
std::unique_ptr<store::sqlite_store> open_store(const config::settings& s,
                                                const std::shared_ptr<spdlog::logger>& log,
                                                std::string& error) {
    if (s.store.path.empty()) return nullptr;
    auto opened =
        store::sqlite_store::open(s.store.path, s.replies.retention, log, s.store.max_queue_bytes);
    if (opened) return std::move(*opened);
    error = opened.error();
    return nullptr;
}

}  // namespace

void log_exception::operator()(const std::exception_ptr& e) const {
    if (!e) return;
    std::uint64_t n = 1;
    if (failures != nullptr) n = ++*failures;  // atomic: sessions end on every plane's thread
    if ((n & (n - 1)) != 0) return;  // logged the 1st, 2nd, 4th… time: a flood costs a few lines
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        log->error("event=session_failed what={} count={}", kit::logfmt_value(ex.what()), n);
    } catch (...) {
        log->error("event=session_failed what=unknown count={}", n);
    }
}

http::api_limits api_limits_of(const config::settings& s) {
    // The largest payload that still fits one MQTT packet with its topic and headers.
    constexpr std::size_t topic_room = 512;
    return {s.rrpc.timeout_min,
            s.rrpc.timeout_max,
            s.thing.sync_timeout,
            s.mqtt.max_packet_size > topic_room ? s.mqtt.max_packet_size - topic_room : 0,
            s.rrpc.max_pending_per_device,
            s.log_access};
}

namespace {

/// What a node's slot says of its holder (a second node asking for that id is told).
std::string holder_of(const config::settings& s) {
    std::string out = "pid=" + std::to_string(::getpid());
    // Unique to this process whatever the host (containers all run pid 1 with one config): a
    // renewal adopts a claim only when its holder is this very process.
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0')
        out += std::string{" host="} + kit::printable(host, 64);
    out += " run=" + kit::to_hex(kit::random_bytes(6));
    const std::pair<const char*, const std::optional<config::endpoint>*> listeners[] = {
        {"mqtt", &s.mqtt.listen},
        {"mqtts", &s.mqtt.tls_listen},
        {"http", &s.http.listen},
        {"https", &s.http.tls_listen}};
    for (const auto& [name, where] : listeners)
        if (*where)
            out += std::string{" "} + name + "=" + (*where)->host + ":" +
                   std::to_string((*where)->port);
    return out;
}

/// The cores this process may run on: its CPU affinity (taskset, a container's cpuset), not every
/// core of the machine.
unsigned usable_cores() noexcept {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) return static_cast<unsigned>(CPU_COUNT(&set));
    return std::thread::hardware_concurrency();
}

}  // namespace

node::node(config::settings_ptr settings, catalog::thing_models models, loggers logs)
    // One thread: no locking in the io_context at all (the single-threaded server as before).
    : io_(std::make_unique<node_io_context>(
          static_cast<int>(config::planes_of(*settings, usable_cores())))),
      settings_(std::move(settings)),
      log_(std::move(logs)),
      mqtt_connections_(settings_->mqtt.max_connections,
                        settings_->mqtt.max_connections_per_address),
      http_connections_(settings_->http.max_connections,
                        settings_->http.max_connections_per_address),
      backoff_(settings_->mqtt.login_backoff),
      login_(backoff_),
      store_(open_store(*settings_, log_.server, store_error_)),
      shared_(settings_->cluster.enabled()
                  ? std::make_unique<cluster::shared_store>(
                        *io_, store_ ? static_cast<store::journal&>(*store_) : memory_,
                        settings_->replies.retention, log_.server)
                  : nullptr),
      models_(std::move(models)),
      calls_(settings_->replies.retention,
             {settings_->replies.max_records, settings_->replies.max_record_bytes,
              settings_->replies.max_async_calls, settings_->replies.max_async_bytes}),
      fleet_(
          devices_, journal(),
          [this](const catalog::device_key& d, bool forget) { router_.close(d, forget); },
          log_.server),
      auth_(settings_->access_keys, settings_->http.signature_window, settings_->http.max_nonces),
      api_(api_limits_of(*settings_), auth_, backoff_,
           {router_, calls_, devices_, models_, properties_, counters_, journal(), fleet_},
           log_.http),
      console_(settings_, api_, devices_, calls_, console_view_, backoff_, log_.http),
      started_ms_(kit::unix_ms()),
      amqp_connections_(settings_->amqp.max_connections, settings_->amqp.max_connections) {
    const auto planes = config::planes_of(*settings_, usable_cores());
    if (planes > 1) {
        node_strand_.emplace(asio::make_strand(*io_));
        node_ex_ = *node_strand_;
    } else {
        node_ex_ = io_->get_executor();
    }
    gate_.emplace(node_ex_);
    // Answered async calls are read back from the store past the call log's cache (lookups,
    // replays); without a store, the cache is all there is.
    calls_.archive = store_.get();
    uplink_.emplace(asio::make_strand(*io_), settings_->amqp, journal(), log_.server);
    if (settings_->amqp.enabled()) {
        amqp_ctx_.emplace(*uplink_, auth_, settings_->amqp, log_.server);
        // Async answers as the platform forwards them (thing/downlink/reply/message).
        replies_.subscribe(uplink_->executor(), [this](const rrpc::async_reply& r) {
            if (r.elsewhere) return;  // its own node's consumer groups have it
            uplink_->publish({.id = r.message_id,
                              .what = uplink::kind::reply,
                              .product_key = r.device.product_key,
                              .topic = uplink::reply_topic(r.device),
                              .body = http::forwarding_json(r),
                              .generate_ms = r.gmt_create_ms,
                              .qos = 0});
        });
    }
    if (settings_->cluster.enabled()) {
        cluster_ = std::make_shared<cluster::member>(*io_, settings_->cluster,
                                                     holder_of(*settings_), log_.server);
        router_.cluster = cluster_;
        shared_->attach(cluster_);
    }
    const plane_services services{journal(), counters_,    calls_,   replies_,      devices_,
                                  fleet_,    login_,       models_,  properties_,   log_.mqtt,
                                  log_.rrpc, login_lines_, *uplink_, cluster_.get()};
    for (std::size_t i = 0; i < planes; ++i) {
        auto& plane = *planes_.emplace_back(
            std::make_unique<device_plane>(i, planes, *io_, settings_, services));
        mqtt_planes_.contexts.push_back(&plane.mqtt);
        mqtt_planes_.executors.push_back(plane.executor());
        // In place: its replay budget holds a lock (not movable).
        auto& http = *http_ctx_.emplace_back(std::unique_ptr<http_context>(new http_context{
            plane.settings, api_, replies_, frames_, malformed_lines_, replay_budget_,
            settings_->replies.max_queued, settings_->replies.max_queued_bytes, *gate_, counters_,
            [this]() -> asio::awaitable<std::string> {
                // Named first: GCC 12 mishandles a temporary built inside a
                // co_await expression.
                const auto m = co_await metrics();
                co_return render_metrics(m, read_process_figures());
            },
            [this] { return readiness(); }, log_.http}));
        http.archive = store_ ? static_cast<rrpc::call_archive*>(store_.get()) : &calls_;
        http.reply_of = [&plane](const rrpc::call_record& r) { return plane.async.reply_of(r); };
        http.calls = &calls_;
        http.sync = [this] { return journal().sync(); };
        http.console = &console_;
        http.uplink = &*uplink_;
        http.console_executor = node_ex_;
        http.console_elsewhere = planes > 1;
    }
    for (const auto& hook : settings_->replies.webhooks)
        webhooks_.push_back(std::make_unique<webhook_sender>(
            planes > 1 ? asio::any_io_executor{asio::make_strand(*io_)} : io_->get_executor(), hook,
            settings_->replies, replies_, *uplink_, journal(), log_.server));
}

node::~node() {
    if (store_) store_->close();  // its writer wakes sync() waiters on this io_context
    listeners_.clear();
    webhooks_.clear();
    gate_.reset();
    // Every suspended coroutine and queued handler goes here, while all it uses still exists;
    // the io_context itself (its strand service) goes last of the members, after the planes'
    // and the node's strands, which must not outlive it.
    io_->shut_down();
}

std::uint64_t node::id_floor() const {
    std::uint64_t floor = 0;
    for (const auto& p : planes_)
        floor = std::max(floor, p->ids.floor(std::chrono::system_clock::now(), id_floor_ahead));
    return floor;
}

store::journal& node::journal() noexcept {
    if (shared_) return *shared_;
    return store_ ? static_cast<store::journal&>(*store_) : memory_;
}

template <class T>
T node::run_here(asio::awaitable<T> work) {
    auto done = asio::co_spawn(*io_, std::move(work), asio::use_future);
    while (done.wait_for(std::chrono::seconds{0}) != std::future_status::ready) {
        if (io_->stopped()) io_->restart();
        io_->run_one_for(std::chrono::milliseconds{50});
    }
    io_->restart();
    return done.get();
}

cluster::catalog_rows node::catalog_now() const {
    cluster::catalog_rows rows;
    for (const auto& pk : devices_.products()) {
        if (const auto p = devices_.find_product(pk)) rows.products.push_back(*p);
        for (const auto& d : devices_.of_product(pk)) rows.devices.push_back(*d);
    }
    return rows;
}

boost::system::result<void, std::string> node::share_catalog() {
    const auto told = shared_->changes_told();
    auto rows = run_here(shared_->load_catalog(catalog_now()));
    if (!rows) return "cluster: " + rows.error();
    const auto products = rows->products.size();
    const auto devices = rows->devices.size();
    replace_catalog(std::move(*rows));
    log_.server->info("event=shared_catalog_loaded products={} devices={}", products, devices);
    // What any node changes, read back from Redis (this node's own changes too: the same).
    shared_->on_device = [this](const catalog::device_key& key,
                                std::optional<catalog::device_record> record) {
        if (record)
            devices_.add(std::move(*record));
        else
            devices_.remove(key);
    };
    shared_->on_product = [this](catalog::product_record p) { devices_.add_product(std::move(p)); };
    shared_->on_reloaded = [this](cluster::catalog_rows all) { replace_catalog(std::move(all)); };
    shared_->local_catalog = [this] { return catalog_now(); };
    if (shared_->changes_told() != told) shared_->refresh();  // made while it was read
    // An async call another node made: its record in Redis.
    calls_.elsewhere =
        [this](std::uint64_t id) -> asio::awaitable<std::optional<rrpc::call_record>> {
        if (rrpc::message_id_generator::node_of(id) == cluster_->node()) co_return std::nullopt;
        co_return co_await shared_->find_call(id);
    };
    return {};
}

void node::replace_catalog(cluster::catalog_rows rows) {
    std::unordered_set<catalog::device_key, catalog::device_key_hash> kept;
    for (const auto& d : rows.devices) kept.insert(d.key);
    std::vector<catalog::device_key> gone;
    for (const auto& pk : devices_.products())
        for (const auto& d : devices_.of_product(pk))
            if (!kept.contains(d->key)) gone.push_back(d->key);
    for (const auto& key : gone) devices_.remove(key);
    for (auto& p : rows.products) devices_.add_product(std::move(p));
    for (auto& d : rows.devices) devices_.add(std::move(d));
}

boost::system::result<void, std::string> node::join_cluster() {
    // The slot of the last run, remembered beside the store: a restarted node keeps its id when
    // it is still free.
    const auto remembered_at =
        store_ ? settings_->store.path.parent_path() / "cluster-node" : std::filesystem::path{};
    int remembered = -1;
    if (!remembered_at.empty()) {
        std::ifstream in{remembered_at};
        if (!(in >> remembered) || remembered < 0 || remembered > 31) remembered = -1;
    }
    const auto slot = run_here(cluster_->join(std::chrono::seconds{10}, remembered));
    if (!slot) return "cluster: " + slot.error();
    if (!remembered_at.empty()) std::ofstream{remembered_at} << *slot << "\n";
    for (auto& p : planes_) p->ids.set_node(*slot);
    cluster_->serve_call = [this](rrpc::call_request request, std::size_t max_pending) {
        return router_.call_here(std::move(request), max_pending);
    };
    cluster_->serve_send = [this](cluster::send_envelope e) { return serve_send(std::move(e)); };
    cluster_->kick = [this](const catalog::device_key& d, std::uint64_t session, bool forget) {
        auto& plane = router_.home(d);
        asio::post(plane.executor(), [&plane, d, session, forget] {
            if (session == 0)
                plane.registry.disconnect(d, forget);
            else
                plane.registry.kick(d, session);
        });
    };
    // Async answers matched here reach every node's reply streams; the ones matched elsewhere
    // reach this node's (only: its webhooks and consumer groups are the matching node's).
    replies_.subscribe(node_ex_, [this](const rrpc::async_reply& r) {
        if (!r.elsewhere) cluster_->share_reply(cluster::encode(r, cluster_->node()));
    });
    cluster_->on_reply = [this](std::string_view bytes) {
        auto told = cluster::decode_reply(bytes);
        if (!told || told->first == cluster_->node()) return;
        told->second.elsewhere = true;
        replies_.publish(told->second);
    };
    // Messages parked for a device online nowhere, taken by its login here: queued here (on
    // this node's disk), then dropped from Redis; a crash between the two delivers them twice
    // (QoS 1: at least once), never not at all.
    cluster_->on_parked = [this](const catalog::device_key& d,
                                 std::vector<rrpc::queued_message> parked) {
        auto& plane = router_.home(d);
        asio::post(plane.executor(), [this, &plane, d, parked = std::move(parked)]() mutable {
            std::size_t taken = 0;
            for (auto& m : parked) {
                if (!plane.registry.publish_reliably(d, m.message_id, std::move(m.topic),
                                                     std::move(m.payload)))
                    break;  // its queue is full: the rest stay parked, in order
                ++taken;
            }
            if (taken == 0) return;
            asio::co_spawn(
                plane.executor(),
                [](node* self, catalog::device_key device, std::size_t n) -> asio::awaitable<void> {
                    if (co_await self->journal().sync()) co_return;  // parked still: again later
                    self->cluster_->drop_parked(device, n);
                }(this, d, taken),
                asio::detached);
        });
    };
    cluster_->on_reclaimed = [this] {
        for (auto& p : planes_)
            asio::post(p->executor(), [this, &plane = *p] {
                plane.registry.for_each_live(
                    [this](const catalog::device_key& d, const live_session& s) {
                        cluster_->online(d, s.serial(), s.keep_alive(), true);
                    });
            });
    };
    cluster_->on_lost = [this](const std::string& why) {
        // Its devices may be served elsewhere by now: serving on would be a split brain. A
        // supervisor (systemd's Restart=, a container's restart policy) starts it again.
        log_.server->critical("event=cluster_exit reason={}", kit::logfmt_value(why, 512));
        log_.server->flush();
        std::_Exit(75);
    };
    return {};
}

asio::awaitable<cluster::outcome_envelope> node::serve_send(cluster::send_envelope e) {
    cluster::outcome_envelope o{.ticket = e.ticket,
                                .code = rrpc::rrpc_code::success,
                                .message_id = e.message_id,
                                .waiting = 0,
                                .payload = {}};
    const auto device = e.device;
    bool kept = false;
    if (e.publish) {
        const bool taken = co_await router_.publish_here(
                               std::move(e.device), std::move(e.topic), std::move(e.payload),
                               e.reliable, e.message_id) == rrpc::router::published::taken;
        o.code = taken ? rrpc::rrpc_code::success : rrpc::rrpc_code::offline;
        kept = taken && e.reliable;
    } else {
        rrpc::async_request request{e.kind,
                                    std::move(e.device),
                                    std::move(e.topic),
                                    std::move(e.payload),
                                    std::move(e.identifier),
                                    std::move(e.alink_id),
                                    e.reliable,
                                    std::move(e.owner)};
        const auto sent = co_await router_.send_here(e.message_id, std::move(request));
        o.waiting = static_cast<std::uint32_t>(sent);
        kept = e.reliable && sent == rrpc::async_calls::sent::ok;
    }
    // What the origin answers Success for is on this node's disk first; else it is taken back.
    if (kept && co_await journal().sync()) {
        co_await router_.withdraw(device, e.message_id);
        if (!e.publish) calls_.finish(e.message_id, rrpc::call_state::unknown);
        o.code = rrpc::rrpc_code::unknown;
    }
    co_return o;
}

boost::system::result<void, std::string> node::open() {
    if (!store_error_.empty()) return store_error_;
    if (cluster_)
        if (auto joined = join_cluster(); !joined) return joined.error();
    if (store_) {
        const auto failed = [&](const boost::system::error_code& ec) {
            return "store " + settings_->store.path.string() + ": cannot read it: " + ec.message();
        };
        auto catalog = store_->load_catalog();
        if (!catalog) return failed(catalog.error());
        for (auto& p : catalog->products) devices_.add_product(std::move(p));
        for (auto& d : catalog->devices) devices_.add(std::move(d));
        auto kept = store_->load_messages();
        if (!kept) return failed(kept.error());
        // Before any thread runs: each device's state goes straight to its home plane.
        const auto resume_after = [&](std::uint64_t id) {
            for (auto& p : planes_) p->ids.resume_after(id);
        };
        for (auto& [device, message] : *kept) {
            resume_after(message.message_id);
            router_.home(device).registry.restore(device, std::move(message));
        }
        const auto floor = store_->load_id_floor();
        if (!floor) return failed(floor.error());
        resume_after(*floor);
        // On disk before the first id is handed out; then each second (each_second()).
        store_->id_floor_saved(id_floor(), store::journal::urgency::durable);
        const auto calls = store_->load_calls();
        if (!calls) return failed(calls.error());
        for (const auto& c : *calls) {
            resume_after(c.message_id);
            calls_.restore(c);
            router_.home(c.device).async.restore(c);
        }
        const auto sessions = store_->load_sessions();
        if (!sessions) return failed(sessions.error());
        for (const auto& [device, s] : *sessions)
            router_.home(device).registry.restore_session(device, s);
        for (auto& p : planes_) p->registry.expire_sessions();  // no thread runs yet
        const auto values = store_->load_property_values();
        if (!values) return failed(values.error());
        for (const auto& [device, v] : *values) properties_.restore(device, v);
        // The webhooks' undelivered replies go back to their queues, by the webhook's identity
        // (its id, or its URL and secret); one no longer configured loses its own (said once).
        auto undelivered = store_->load_delivery_queue();
        if (!undelivered) return failed(undelivered.error());
        std::size_t orphaned = 0;
        for (auto& w : *undelivered) {
            if (uplink_service::is_group_queue(w.hook)) {
                uplink_->restore(w.hook, w.message_id, w.queued_ms, w.body);
                continue;
            }
            auto it = std::find_if(webhooks_.begin(), webhooks_.end(),
                                   [&](const auto& s) { return s->identity() == w.hook; });
            if (it == webhooks_.end()) {
                // A row of a store older than identities is its URL's (kept under the identity
                // from now on); any other is no webhook's any more.
                store_->delivery_done(w.hook, w.message_id);
                it = std::find_if(webhooks_.begin(), webhooks_.end(),
                                  [&](const auto& s) { return s->url() == w.hook; });
                if (it == webhooks_.end()) {
                    ++orphaned;
                    continue;
                }
                store_->delivery_queued((*it)->identity(), w.message_id, w.queued_ms, w.body);
            }
            (*it)->restore(w.message_id, w.queued_ms, std::move(w.body));
        }
        if (orphaned != 0)
            log_.server->warn(
                "event=webhook_queue_dropped reason=\"its webhook (URL and secret, or id) is "
                "no longer configured\" replies={}",
                orphaned);
        log_.server->info(
            "event=store_opened path={} products={} devices={} queued_messages={} "
            "async_calls={} sessions={}",
            kit::logfmt_value(settings_->store.path.string()), catalog->products.size(),
            catalog->devices.size(), kept->size(), calls->size(), sessions->size());
    }
    properties_.on_kept = [this](const catalog::device_key& d,
                                 const std::vector<catalog::property_value>& values) {
        journal().properties_saved(d, values);
    };
    // Async calls outlive a restart (their answers come later); a sync caller has its answer.
    calls_.on_change = [this](const rrpc::call_record& r) {
        if (r.kind == rrpc::call_kind::async_rrpc || r.kind == rrpc::call_kind::thing_async)
            journal().call_saved(r);
    };
    if (shared_)
        if (auto shared = share_catalog(); !shared) return shared.error();
    auto keys = fleet_.seed(*settings_, store_.get(), models_);
    if (!keys)
        return "store " + settings_->store.path.string() +
               ": cannot read it: " + keys.error().message();
    auth_.set_keys(*keys);
    // The config file's devices, as seeding changed them, are the cluster's before any login.
    if (shared_)
        if (const auto ec = run_here(journal().sync()))
            return "cluster: Redis did not take the config file's devices: " + ec.message();
    return {};
}

boost::system::result<std::string, std::string> node::listen(const char* name,
                                                             const config::endpoint& where,
                                                             tls_context tls) {
    auto& l = *listeners_.emplace_back(
        std::make_unique<listener>(listener{name, tls != nullptr, tcp::acceptor{*io_}, tls}));
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(where.host, ec);
    const tcp::endpoint ep{address, where.port};
    if (!ec) l.acceptor.open(ep.protocol(), ec);
    if (!ec) l.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) l.acceptor.bind(ep, ec);
    if (!ec) l.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return {boost::system::in_place_error, ec.message()};
    asio::co_spawn(node_ex_, accept(l), log_exception{log_.server});
    return {boost::system::in_place_value, bound(l.acceptor)};
}

void node::start() {
    if (cluster_) {
        cluster_->start();
        for (auto& p : planes_)
            asio::post(p->executor(), [this, &plane = *p] { plane.spill_restored(*cluster_); });
    }
    for (auto& hook : webhooks_) hook->start();
    uplink_->start();
    asio::co_spawn(node_ex_, expire_sessions(), log_exception{log_.server});
    asio::co_spawn(node_ex_, each_second(), log_exception{log_.server});
}

asio::awaitable<void> node::each_second() {
    asio::steady_timer tick{*io_};
    for (;;) {
        console_.sample();
        for (auto& p : planes_)
            co_await on_plane(*p, [&]() -> asio::awaitable<void> {
                p->registry.drop_expired_held();
                co_return;
            });
        // Ahead of the clock by more than a lazy write's delay: a restart resumes above every
        // id this process issued, even with the clock set back.
        journal().id_floor_saved(id_floor(), store::journal::urgency::lazy);
        tick.expires_after(std::chrono::seconds{1});
        if (const auto [ec] = co_await tick.async_wait(kit::use_nothrow); ec) co_return;
    }
}

asio::awaitable<std::vector<console::device_live>> node::console_view::devices(
    std::vector<catalog::device_key> keys, std::size_t queued_listed) {
    // One message per plane with its devices, answered in the order asked.
    const auto n = s.planes_.size();
    std::vector<std::vector<std::size_t>> at(n);
    for (std::size_t i = 0; i < keys.size(); ++i) at[rrpc::home_plane(keys[i], n)].push_back(i);
    std::vector<console::device_live> out(keys.size());
    for (std::size_t p = 0; p < n; ++p) {
        if (at[p].empty()) continue;
        auto& plane = *s.planes_[p];
        co_await on_plane(plane, [&]() -> asio::awaitable<void> {
            for (const auto i : at[p]) {
                const auto& d = keys[i];
                auto& live = out[i];
                live.online =
                    plane.registry.presence_of(d).link == rrpc::presence::state::connected;
                live.session = plane.registry.session_of(d, queued_listed != 0);
                if (queued_listed == 0) continue;
                if (const auto* waiting = plane.registry.queued_messages(d)) {
                    live.queued_total = waiting->size();
                    for (std::size_t j = 0; j < waiting->size() && j < queued_listed; ++j) {
                        const auto& m = (*waiting)[j];
                        live.queued.push_back({m.message_id, m.topic, m.payload.size(), m.sent});
                    }
                }
            }
            co_return;
        });
    }
    co_return out;
}

asio::awaitable<console::figures> node::console_view::now() {
    console::figures f;
    for (auto& p : s.planes_)
        co_await on_plane(*p, [&]() -> asio::awaitable<void> {
            f.online += p->registry.online();
            f.pending += p->rrpc.pending();
            f.presence_changes += p->registry.presence_changes();
            co_return;
        });
    f.store = !s.store_ ? "memory" : s.store_->writable() ? "ok" : "failing";
    f.started_ms = s.started_ms_;
    co_return f;
}

asio::awaitable<void> node::expire_sessions() {
    asio::steady_timer tick{*io_};
    for (;;) {
        tick.expires_after(std::chrono::minutes{1});
        if (const auto [ec] = co_await tick.async_wait(kit::use_nothrow); ec) co_return;
        for (auto& p : planes_)
            co_await on_plane(*p, [&]() -> asio::awaitable<void> {
                p->registry.expire_sessions();
                co_return;
            });
    }
}

asio::awaitable<void> node::accept(listener& l) {
    if (l.name[0] == 'a') co_return co_await accept_amqp(l);
    const bool is_mqtt = l.name[0] == 'm';
    auto& limiter = is_mqtt ? mqtt_connections_ : http_connections_;
    auto& log = is_mqtt ? *log_.mqtt : *log_.http;
    asio::steady_timer pause{*io_};
    while (l.acceptor.is_open()) {
        auto [ec, socket] = co_await l.acceptor.async_accept(kit::use_nothrow);
        if (ec == asio::error::operation_aborted) break;
        if (ec) {  // out of descriptors, say: pause instead of spinning
            if (counters_.hit(kit::limit::accept_failed))
                log.warn("event=limit_hit limit=accept_failed listener={} reason={} count={}",
                         l.name, kit::logfmt_value(ec.message()),
                         counters_.count(kit::limit::accept_failed));
            pause.expires_after(std::chrono::milliseconds{100});
            co_await pause.async_wait(kit::use_nothrow);
            continue;
        }
        boost::system::error_code peer_ec;
        const auto from = socket.remote_endpoint(peer_ec).address();
        if (peer_ec) continue;  // gone already
        if (const auto verdict = limiter.admit(from);
            verdict != kit::connection_limiter::verdict::admitted) {
            using enum kit::limit;
            const auto hit =
                verdict == kit::connection_limiter::verdict::total
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
        kit::connection_slot slot{limiter, from};
        // Each connection starts on the next plane in turn: an MQTT session then moves to its
        // device's home plane (after the CONNECT), an HTTP session stays (its calls hop).
        const auto k = next_plane_.fetch_add(1, std::memory_order_relaxed) % planes_.size();
        if (is_mqtt)
            asio::co_spawn(
                planes_[k]->executor(),
                run_mqtt_session(std::move(socket), mqtt_planes_, k, l.context, std::move(slot)),
                log_exception{log_.mqtt, &failures_});
        else
            asio::co_spawn(
                planes_[k]->executor(),
                run_http_session(std::move(socket), *http_ctx_[k], l.context, std::move(slot)),
                log_exception{log_.http, &failures_});
    }
}

asio::awaitable<void> node::accept_amqp(listener& l) {
    asio::steady_timer pause{*io_};
    while (l.acceptor.is_open()) {
        auto [ec, socket] = co_await l.acceptor.async_accept(kit::use_nothrow);
        if (ec == asio::error::operation_aborted) break;
        if (ec) {
            if (counters_.hit(kit::limit::accept_failed))
                log_.server->warn(
                    "event=limit_hit limit=accept_failed listener={} reason={} "
                    "count={}",
                    l.name, kit::logfmt_value(ec.message()),
                    counters_.count(kit::limit::accept_failed));
            pause.expires_after(std::chrono::milliseconds{100});
            co_await pause.async_wait(kit::use_nothrow);
            continue;
        }
        boost::system::error_code peer_ec;
        const auto from = socket.remote_endpoint(peer_ec).address();
        if (peer_ec) continue;
        if (amqp_connections_.admit(from) != kit::connection_limiter::verdict::admitted) {
            // Said the 1st, 2nd, 4th… time: a connection flood costs a few lines, not one each.
            const auto n = ++amqp_refused_connections_;
            if ((n & (n - 1)) == 0)
                log_.server->warn(
                    "event=limit_hit limit=amqp_connections address={} open={} "
                    "count={}",
                    from.to_string(), amqp_connections_.open(), n);
            continue;
        }
        kit::connection_slot slot{amqp_connections_, from};
        asio::co_spawn(uplink_->executor(),
                       run_amqp_session(std::move(socket), *amqp_ctx_, l.context, std::move(slot)),
                       log_exception{log_.server, &failures_});
    }
}

void node::reloaded(config::settings_ptr next, tls_context tls) {
    // What reads the settings at each use reads this snapshot from now on; what keeps its own
    // copy (the limiters, the back-off, the API's limits, the keys) is given the new values.
    settings_ = std::move(next);
    // Each plane takes the snapshot on its own thread (what runs there reads it at each use).
    for (auto& p : planes_) {
        if (p->here())
            p->settings = settings_;
        else
            asio::post(p->executor(),
                       [plane = p.get(), next = settings_] { plane->settings = next; });
    }
    const auto& s = *settings_;
    mqtt_connections_.set_limits(s.mqtt.max_connections, s.mqtt.max_connections_per_address);
    http_connections_.set_limits(s.http.max_connections, s.http.max_connections_per_address);
    backoff_.set_settings(s.mqtt.login_backoff);
    auth_.set_keys(fleet_.reseed_access_keys(s, store_.get()));
    api_.set_limits(api_limits_of(s));
    for (auto& l : listeners_)
        if (l->tls) l->context = tls;  // sessions keep the context they started with
}

asio::awaitable<void> node::drain(std::chrono::milliseconds grace, bool linger) {
    std::size_t online = 0;
    for (const auto& p : planes_)
        online += co_await on_plane(
            *p, [&]() -> asio::awaitable<std::size_t> { co_return p->registry.online(); });
    log_.server->info("event=stopping in_flight={} devices={}", gate_->in_flight(), online);
    // Readiness says 503 from now on and new calls are refused with 503; devices stay connected
    // to answer. No new device session: the MQTT listeners close at once.
    gate_->stop();
    boost::system::error_code ignored;
    const auto close_listeners = [&](bool mqtt) {
        for (auto& l : listeners_)
            if ((l->name[0] == 'm') == mqtt) l->acceptor.close(ignored);
    };
    close_listeners(true);
    const auto until = std::chrono::steady_clock::now() + grace;
    co_await gate_->wait_idle(grace);
    // `linger` (SIGTERM): the HTTP listeners keep accepting for the whole grace, so that a load
    // balancer's probe and a late request get the 503 they can act on, not a refused connection.
    if (linger) {
        asio::steady_timer rest{*io_, until};
        co_await rest.async_wait(kit::use_nothrow);
    }
    close_listeners(false);
    std::size_t cancelled = 0;
    for (auto& p : planes_)
        cancelled += co_await on_plane(
            *p, [&]() -> asio::awaitable<std::size_t> { co_return p->rrpc.cancel_all(); });
    if (cancelled != 0) {
        log_.server->warn("event=calls_cancelled count={} reason=shutdown", cancelled);
        co_await gate_->wait_idle(std::chrono::seconds{1});  // their UNKNOWN answers go out
    }
    for (auto& p : planes_)
        co_await on_plane(*p, [&]() -> asio::awaitable<void> {
            p->registry.close_all();
            co_return;
        });
    asio::steady_timer flush{*io_, std::chrono::milliseconds{200}};  // the sessions' last bytes
    co_await flush.async_wait(kit::use_nothrow);
    if (cluster_) co_await cluster_->leave();  // its slot is free at once for a restart
}

std::vector<readiness_check> node::readiness() {
    std::vector<readiness_check> checks;
    auto& listening = checks.emplace_back(readiness_check{"listeners", {}});
    if (listeners_.empty()) listening.problem = "not bound yet";
    auto& store = checks.emplace_back(readiness_check{"store", {}});
    if (store_ && !store_->writable()) {
        store.problem = "its last write failed (see event=store_write_failed)";
        store_->probe();  // a later probe sees it writable again once a write succeeds
    }
    auto& draining = checks.emplace_back(readiness_check{"draining", {}});
    if (gate_ && gate_->stopping()) draining.problem = "shutting down";
    return checks;
}

asio::awaitable<metrics_snapshot> node::metrics() {
    // The node's figures where the node's services run (the console's sessions, say).
    // The coroutine's own executor, not running_in_this_thread(): a coroutine of a plane can be
    // resumed inline inside the node strand, and would resume on its plane after its awaits.
    const auto ex = co_await asio::this_coro::executor;
    if (planes_.size() > 1 && ex != node_ex_) {
        auto there = asio::co_spawn(node_ex_, metrics(), asio::use_awaitable);
        co_return co_await std::move(there);
    }
    metrics_snapshot m;
    for (std::size_t i = 0; i < kit::limit_kinds; ++i)
        m.limit_hits[i] = counters_.count(static_cast<kit::limit>(i));
    m.mqtt_connections = mqtt_connections_.open();
    m.http_connections = http_connections_.open();
    m.login_backoff_entries = backoff_.tracked();
    m.login_backoff_evicted = backoff_.evicted();
    for (std::size_t i = 0; i < planes_.size(); ++i) {
        auto& p = planes_[i];
        co_await on_plane(*p, [&]() -> asio::awaitable<void> {
            m.devices_online += p->registry.online();
            m.plane_devices_online.push_back(p->registry.online());
            m.calls_pending += p->rrpc.pending();
            m.sessions_kept += p->registry.sessions().size();
            m.sessions_expired += p->registry.sessions().expired();
            const auto& t = p->mqtt.traffic;
            m.mqtt_messages_in += t.messages_in.load(std::memory_order_relaxed);
            m.mqtt_messages_out += t.messages_out.load(std::memory_order_relaxed);
            m.mqtt_bytes_in += t.bytes_in.load(std::memory_order_relaxed);
            m.mqtt_bytes_out += t.bytes_out.load(std::memory_order_relaxed);
            const auto& st = p->rrpc.stats();
            m.calls_success += st.success;
            m.calls_timeout += st.timeout;
            m.calls_offline += st.offline;
            m.calls_halfconn += st.halfconn;
            for (const auto& [reason, n] : p->mqtt.login_refused) m.login_refused[reason] += n;
            for (const auto& [key, n] : p->mqtt.alink_answered)
                m.alink_answered[{std::string{key.first}, key.second}] += n;
            m.async_duplicates += p->async.duplicates();
            m.held_messages += p->registry.held();
            m.held_bytes += p->registry.held_bytes();
            m.sse_clients += http_ctx_[i]->streams;
            co_return;
        });
    }
    for (const auto& l : listeners_)
        if (const auto not_after = certificate_not_after(l->context)) {
            m.tls_cert_expiry_seconds = *not_after - kit::unix_ms() / 1000;
            break;
        }
    const auto nonces = auth_.nonces();
    m.nonces = nonces.size;
    m.nonces_forgotten = nonces.forgotten;
    if (store_) {
        m.store_failed_writes = store_->failed_batches();
        m.store_write_seconds = store_->write_seconds();
    }
    m.api = api_.stats();
    m.calls_started = calls_.started();
    m.calls_ended = calls_.ended();
    for (const auto& g : uplink_->figures())
        m.amqp_groups.push_back({g.id, g.queued, g.bytes, g.consumers, g.delivered, g.accepted,
                                 g.redelivered, g.refused, g.expired});
    m.amqp_connections = amqp_connections_.open();
    if (amqp_ctx_) {
        m.amqp_logins = amqp_ctx_->logins;
        m.amqp_logins_refused = amqp_ctx_->logins_refused;
        m.amqp_refused_links = amqp_ctx_->refused_links;
    }
    for (const auto& w : webhooks_) {
        const auto c = w->stats();
        m.webhook_delivered += c.delivered;
        m.webhook_retries += c.retries;
        m.webhook_gave_up += c.gave_up;
        m.webhook_dropped += c.dropped;
    }
    m.console_sessions = console_.sessions();
    m.sse_dropped = counters_.count(kit::limit::reply_queue);
    m.handler_failures = failures_;
    m.router_hops = router_.hops();
    if (cluster_) m.cluster = cluster_->figures();
    if (store_) m.store_queued_bytes = store_->queued_bytes();
    co_return m;
}

}  // namespace rrpcd::server
