#include "cluster/member.hpp"
#include "cluster/records.hpp"

#include "cluster/scripts.hpp"
#include "kit/use_nothrow.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <random>
#include <set>

namespace rrpcd::cluster {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

std::string inbox_of(std::uint32_t node) {
    return "rrpcd:inbox:" + std::to_string(node);
}
std::string presence_key(const catalog::device_key& d) {
    return "rrpcd:dev:" + d.product_key + "/" + d.device_name;
}
bool is_array(const redis_connection::result& r) {
    return r && r->kind == reply::type::array;
}
long long int_at(const reply& r, std::size_t i) {
    return i < r.elements.size() ? r.elements[i].integer : 0;
}
std::string text_at(const reply& r, std::size_t i) {
    return i < r.elements.size() ? r.elements[i].text : std::string{};
}

// Commands and messages are made here, outside the coroutines: GCC 12 refuses (or mishandles)
// string literals turned into temporaries inside a coroutine.

using scripts::script_call;

std::vector<std::string> publish_call(std::uint32_t node, std::string bytes) {
    std::vector<std::string> argv;
    argv.emplace_back("PUBLISH");
    argv.push_back(inbox_of(node));
    argv.push_back(std::move(bytes));
    return argv;
}
std::string parked_key(const catalog::device_key& d) {
    return "rrpcd:q:" + d.product_key + "/" + d.device_name;
}
std::vector<std::string> parked_call(const catalog::device_key& d) {
    std::vector<std::string> argv;
    argv.emplace_back("LRANGE");
    argv.push_back(parked_key(d));
    argv.emplace_back("0");
    argv.emplace_back("-1");
    return argv;
}
std::vector<std::string> trim_call(const catalog::device_key& d, std::size_t taken) {
    std::vector<std::string> argv;
    argv.emplace_back("LTRIM");
    argv.push_back(parked_key(d));
    argv.push_back(std::to_string(taken));
    argv.emplace_back("-1");
    return argv;
}
std::vector<std::string> park_call(const catalog::device_key& d, const rrpc::queued_message& m,
                                   std::size_t max) {
    return script_call(scripts::park, {presence_key(d), parked_key(d)},
                       {encode(m), std::to_string(max)});
}
std::vector<std::string> replies_call(std::string bytes) {
    std::vector<std::string> argv;
    argv.emplace_back("PUBLISH");
    argv.emplace_back(scripts::replies_channel);
    argv.push_back(std::move(bytes));
    return argv;
}
std::vector<std::string> listeners_call(std::uint32_t node) {
    std::vector<std::string> argv;
    argv.emplace_back("PUBSUB");
    argv.emplace_back("NUMSUB");
    argv.push_back(inbox_of(node));
    return argv;
}
std::string no_answer(const config::cluster_settings& s) {
    return "Redis at " +
           (s.unix_path.empty() ? s.host + ":" + std::to_string(s.port) : s.unix_path) +
           " does not answer";
}
std::string held_by(long long slot, const std::string& holder) {
    return "node id " + std::to_string(slot) + " is held by another node (" + holder + ")";
}
/// A presence script's call: the device's record, this node's identity and the session.
std::vector<std::string> presence_call(std::string_view script, const catalog::device_key& d,
                                       std::uint32_t node, const std::string& epoch,
                                       std::uint64_t session, std::string_view last) {
    return script_call(script, {presence_key(d)},
                       {std::to_string(node), epoch, std::to_string(session), std::string{last}});
}
std::vector<std::string> online_call(const catalog::device_key& d, std::uint32_t node,
                                     const std::string& epoch, std::uint64_t session,
                                     std::chrono::seconds keep_alive, bool reassert) {
    auto argv =
        presence_call(scripts::online, d, node, epoch, session, std::to_string(keep_alive.count()));
    argv.emplace_back(reassert ? "reassert" : "login");
    return argv;
}
std::vector<std::string> route_call(const catalog::device_key& d, std::string message) {
    return script_call(scripts::route, {presence_key(d)}, {std::move(message)});
}
std::string stopped_too_long(std::chrono::milliseconds lease) {
    return "this process was stopped for longer than its lease (" + std::to_string(lease.count()) +
           " ms)";
}
std::string failure(std::string_view why) {
    return std::string{why};
}

}  // namespace

/// A call this node forwarded: its outcome, once the owner's comes (or the owner is gone).
struct member::forwarded {
    explicit forwarded(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::optional<std::uint32_t> node;  ///< once the route sent it
    std::optional<outcome_envelope> outcome;
    rrpc::rrpc_code code = rrpc::rrpc_code::timeout;  ///< without an outcome
    bool done = false;  ///< ended (before its waiter may have armed the timer)
    void end(rrpc::rrpc_code why) {
        if (done) return;
        done = true;
        code = why;
        timer.cancel();
    }
};

namespace {
std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now().time_since_epoch())
        .count();
}
std::uint64_t random_start() {
    std::random_device r;
    return (std::uint64_t{r()} << 32 | r()) >> 1;  // room to count up
}
}  // namespace

member::member(asio::io_context& io, const config::cluster_settings& settings, std::string holder,
               std::shared_ptr<spdlog::logger> log)
    : io_(io),
      settings_(settings),
      holder_(std::move(holder)),
      log_(std::move(log)),
      strand_(asio::make_strand(io)),
      commands_(std::make_shared<redis_connection>(io, settings, "commands", log_)),
      inbox_(std::make_shared<redis_connection>(io, settings, "inbox", log_)),
      renew_timer_(strand_),
      next_ticket_(random_start()) {}

bool member::reachable() const noexcept {
    return commands_->ready() && inbox_->ready() && answering_.load(std::memory_order_relaxed) &&
           steady_ms() - renewed_ms_.load(std::memory_order_relaxed) <= settings_.lease.count();
}

void member::mark_renewed() {
    renewed_ms_.store(steady_ms(), std::memory_order_relaxed);
}

void member::counted(purpose why, bool answered) {
    answering_.store(answered, std::memory_order_relaxed);
    const std::lock_guard lock{figures_mutex_};
    ++figures_.round_trips[static_cast<std::size_t>(why)];
    if (!answered) ++figures_.errors;
}

asio::awaitable<redis_connection::result> member::command(purpose why,
                                                          std::vector<std::string> argv) {
    co_return co_await eval(why, std::move(argv));
}

asio::awaitable<redis_connection::result> member::eval(purpose why, std::vector<std::string> argv) {
    auto r = co_await commands_->command(std::move(argv));
    counted(why, r.has_value());
    if (r && r->is_error()) log_->error("event=redis_script_failed error={}", r->text);
    co_return r;
}

asio::awaitable<boost::system::result<std::uint32_t, std::string>> member::join(
    std::chrono::milliseconds wait, int remembered) {
    commands_->start();
    asio::steady_timer timer{co_await asio::this_coro::executor};
    const auto until = clock::now() + wait;
    while (!commands_->ready()) {
        if (clock::now() >= until) co_return no_answer(settings_);
        timer.expires_after(std::chrono::milliseconds{20});
        co_await timer.async_wait(kit::use_nothrow);
    }
    const auto want = settings_.node_id ? static_cast<long long>(*settings_.node_id) : -1LL;
    auto claim = script_call(scripts::claim, {},
                             {std::to_string(want), holder_,
                              std::to_string(settings_.lease.count()), std::to_string(remembered)});
    const auto r = co_await eval(purpose::lease, std::move(claim));
    if (!is_array(r)) co_return no_answer(settings_);
    const auto slot = int_at(*r, 0);
    if (slot == -1) co_return held_by(want, text_at(*r, 1));
    if (slot < 0) co_return failure("all 32 node ids are held");
    node_ = static_cast<std::uint32_t>(slot);
    epoch_ = std::to_string(int_at(*r, 1));
    // Its inbox listens before the node takes any device or call.
    listen();
    while (!inbox_->ready()) {
        if (clock::now() >= until) co_return no_answer(settings_);
        timer.expires_after(std::chrono::milliseconds{20});
        co_await timer.async_wait(kit::use_nothrow);
    }
    last_woke_ = clock::now();
    mark_renewed();
    log_->info("event=cluster_joined node={} epoch={}", node_, epoch_);
    co_return node_;
}

void member::start() {
    // Renewed at once: opening the store and binding the listeners took time since join().
    asio::post(strand_, [self = shared_from_this()] {
        self->last_woke_ = clock::now();
        self->renew_now_ = true;
        asio::co_spawn(self->strand_, self->renew_loop(), asio::detached);
    });
}

void member::reassert() {
    if (on_reclaimed) on_reclaimed();
    auto ends = std::move(unwritten_ends_);
    unwritten_ends_.clear();
    for (const auto& [device, end] : ends) offline(device, end.first, end.second);
}

void member::listen() {
    // Weak: the connections are this object's (no cycle through their handlers).
    const std::weak_ptr<member> weak = shared_from_this();
    inbox_->listen({inbox_of(node_), std::string{scripts::catalog_channel},
                    std::string{scripts::replies_channel}},
                   [weak](std::string_view channel, std::string_view bytes) {
                       const auto self = weak.lock();
                       if (!self) return;
                       if (channel == scripts::catalog_channel) {
                           if (self->on_catalog) self->on_catalog(bytes);
                       } else if (channel == scripts::replies_channel) {
                           if (self->on_reply) self->on_reply(bytes);
                       } else {
                           self->on_inbox(bytes);
                       }
                   });
    // Messages published while it was away are lost: the catalog is read again.
    inbox_->on_ready = [weak, first = true]() mutable {
        const auto self = weak.lock();
        if (!self || std::exchange(first, false)) return;
        if (self->on_catalog_gap) self->on_catalog_gap();
    };
    // A lost inbox may have lost outcomes: the calls waiting for them end UNKNOWN.
    inbox_->on_lost = [weak] {
        const auto self = weak.lock();
        if (!self) return;
        asio::post(self->strand_, [self] {
            for (auto& [ticket, f] : self->forwarded_)
                if (f->node) f->end(rrpc::rrpc_code::unknown);
        });
    };
    // Back after an outage: renew (or claim again) at once.
    commands_->on_ready = [weak] {
        const auto self = weak.lock();
        if (!self) return;
        asio::post(self->strand_, [self] {
            self->renew_now_ = true;
            self->renew_timer_.cancel();
            // What was written while it was away may be lost, or never sent.
            self->reassert();
        });
    };
    inbox_->start();
}

asio::awaitable<void> member::leave() {
    // Named first: GCC 12 mishandles a temporary built inside a co_await expression.
    auto there = asio::co_spawn(strand_, run_leave(), asio::use_awaitable);
    co_await std::move(there);
}

asio::awaitable<void> member::run_leave() {
    stopping_ = true;
    renew_timer_.cancel();
    if (!lost_) {
        auto release = script_call(scripts::release, {}, {std::to_string(node_), epoch_});
        co_await eval(purpose::lease, std::move(release));
    }
    commands_->stop();
    inbox_->stop();
}

asio::awaitable<void> member::renew_loop() {
    const auto self = shared_from_this();
    while (!stopping_ && !lost_) {
        if (!renew_now_) {
            renew_timer_.expires_after(settings_.lease / 3);
            co_await renew_timer_.async_wait(kit::use_nothrow);
        }
        if (stopping_ || lost_) break;
        co_await renew();
    }
}

asio::awaitable<void> member::renew() {
    const auto now = clock::now();
    // Woken later than the lease: this process did not run (SIGSTOP, a frozen VM). Its slot may
    // have lapsed and its devices moved on: it must not serve on as if nothing happened.
    if (now - last_woke_ > settings_.lease && !renew_now_) {
        lose(stopped_too_long(settings_.lease));
        co_return;
    }
    last_woke_ = now;
    renew_now_ = false;
    auto renewal = script_call(
        scripts::renew, {},
        {std::to_string(node_), epoch_, std::to_string(settings_.lease.count()), holder_});
    const auto r = co_await eval(purpose::lease, std::move(renewal));
    last_woke_ = clock::now();
    if (stopping_) co_return;     // released meanwhile: not claimed again
    if (!is_array(r)) co_return;  // Redis down or hung: local work goes on; retried
    const auto what = int_at(*r, 0);
    if (what == 1 || what == 2) {
        const std::lock_guard lock{figures_mutex_};
        figures_.peers = static_cast<std::uint64_t>(std::max(0LL, int_at(*r, 2)));
    }
    if (what == 1) {
        mark_renewed();
    } else if (what == 2) {
        mark_renewed();
        epoch_ = std::to_string(int_at(*r, 1));
        log_->warn("event=cluster_reclaimed node={} epoch={}", node_, epoch_);
        reassert();
    } else {
        lose(held_by(node_, text_at(*r, 1)));
    }
}

void member::lose(const std::string& why) {
    if (lost_) return;
    lost_ = true;
    log_->error("event=cluster_slot_lost node={} why={}", node_, why);
    if (on_lost) on_lost(why);
}

void member::online(const catalog::device_key& device, std::uint64_t session,
                    std::chrono::seconds keep_alive, bool reassert,
                    std::function<void(bool)> claimed) {
    asio::co_spawn(
        strand_,
        [](std::shared_ptr<member> self, catalog::device_key d, std::uint64_t s,
           std::chrono::seconds ka, bool again,
           std::function<void(bool)> done) -> asio::awaitable<void> {
            auto argv = online_call(d, self->node_, self->epoch_, s, ka, again);
            const auto r = co_await self->eval(purpose::presence, std::move(argv));
            const auto told = [&](bool ok) {
                if (done) done(ok);
            };
            if (is_array(r) && r->elements.size() == 1 && int_at(*r, 0) == -1) {
                // Another live node took the device over while this one was cut off.
                self->log_->info("event=cluster_yielded pk={} dn={}", d.product_key, d.device_name);
                if (self->kick) self->kick(d, s, false);
                told(false);
                co_return;
            }
            if (!is_array(r)) {
                told(false);  // Redis did not take it: the login is refused (CONNACK 3)
                co_return;
            }
            if (r->elements.size() != 2) {
                if (!again) co_await self->take_parked(d);
                told(true);
                co_return;
            }
            // Still online on another node (or in another session of a node's): closed there.
            const auto node = static_cast<std::uint32_t>(int_at(*r, 0));
            std::uint64_t old = 0;
            try {
                old = std::stoull(text_at(*r, 1));
            } catch (const std::exception&) {
                told(true);
                co_return;
            }
            if (node != self->node_) {  // a takeover here: the registry closed it
                {
                    const std::lock_guard lock{self->figures_mutex_};
                    ++self->figures_.kicks;
                }
                auto closing = encode(kick_envelope{d, old, false});
                co_await self->publish(node, std::move(closing));
            }
            if (!again) co_await self->take_parked(d);
            told(true);
        }(shared_from_this(), device, session, keep_alive, reassert, std::move(claimed)),
        asio::detached);
}

void member::offline(const catalog::device_key& device, std::uint64_t session, bool cleanly) {
    asio::co_spawn(
        strand_,
        [](std::shared_ptr<member> self, catalog::device_key d, std::uint64_t s,
           bool left) -> asio::awaitable<void> {
            auto argv = presence_call(scripts::offline, d, self->node_, self->epoch_, s,
                                      left ? "left" : "lost");
            const auto r = co_await self->eval(purpose::presence, std::move(argv));
            if (!r) self->unwritten_ends_[d] = {s, left};  // written again once Redis answers
        }(shared_from_this(), device, session, cleanly),
        asio::detached);
}

asio::awaitable<void> member::take_parked(const catalog::device_key& device) {
    auto argv = parked_call(device);
    const auto r = co_await eval(purpose::store, std::move(argv));
    if (!r || r->kind != reply::type::array || r->elements.empty() || !on_parked) co_return;
    std::vector<rrpc::queued_message> parked;
    parked.reserve(r->elements.size());
    for (const auto& e : r->elements) {
        auto m = decode_parked(e.text);
        if (!m) {
            log_->error("event=parked_message_unreadable pk={} dn={}", device.product_key,
                        device.device_name);
            break;  // the rest stay parked, in order
        }
        parked.push_back(std::move(*m));
    }
    if (!parked.empty()) on_parked(device, std::move(parked));
}

void member::drop_parked(const catalog::device_key& device, std::size_t taken) {
    asio::co_spawn(
        strand_,
        [](std::shared_ptr<member> self, catalog::device_key d,
           std::size_t n) -> asio::awaitable<void> {
            auto argv = trim_call(d, n);
            co_await self->eval(purpose::store, std::move(argv));
        }(shared_from_this(), device, taken),
        asio::detached);
}

asio::awaitable<member::parking> member::park(catalog::device_key device,
                                              rrpc::queued_message message, std::size_t max) {
    auto argv = park_call(device, message, max);
    // Named first: GCC 12 mishandles a temporary built inside a co_await expression.
    auto there =
        asio::co_spawn(strand_, eval(purpose::store, std::move(argv)), asio::use_awaitable);
    const auto r = co_await std::move(there);
    if (!r || r->kind != reply::type::integer) co_return parking::unavailable;
    if (r->integer == -2) co_return parking::online;
    if (r->integer == -1) co_return parking::full;
    co_return parking::parked;
}

void member::share_reply(std::string bytes) {
    asio::co_spawn(
        strand_,
        [](std::shared_ptr<member> self, std::string b) -> asio::awaitable<void> {
            auto argv = replies_call(std::move(b));
            const auto r = co_await self->commands_->command(std::move(argv));
            self->counted(purpose::publish, r.has_value());
        }(shared_from_this(), std::move(bytes)),
        asio::detached);
}

asio::awaitable<void> member::publish(std::uint32_t node, std::string bytes) {
    auto argv = publish_call(node, std::move(bytes));
    const auto r = co_await commands_->command(std::move(argv));
    counted(purpose::publish, r.has_value());
}

asio::awaitable<rrpc::router::call_outcome> member::call(rrpc::call_request request,
                                                         std::size_t max_pending) {
    // Named first: GCC 12 mishandles a temporary built inside a co_await expression.
    auto there =
        asio::co_spawn(strand_, forward(std::move(request), max_pending), asio::use_awaitable);
    co_return co_await std::move(there);
}

asio::awaitable<member::relayed> member::relay(catalog::device_key device, std::uint64_t ticket,
                                               std::string bytes, std::chrono::milliseconds wait) {
    const auto self = shared_from_this();
    relayed out;
    auto f = std::make_shared<forwarded>(strand_);
    forwarded_.emplace(ticket, f);
    auto argv = route_call(device, std::move(bytes));
    const auto r = co_await eval(purpose::route, std::move(argv));
    if (!is_array(r)) {
        forwarded_.erase(ticket);
        out.where = relayed::place::unavailable;
        const std::lock_guard lock{figures_mutex_};
        ++figures_.unavailable;
        co_return out;
    }
    const auto where = int_at(*r, 0);
    if (where != 2) {
        forwarded_.erase(ticket);
        out.where = where == 1 ? relayed::place::halfconn : relayed::place::offline;
        co_return out;
    }
    out.where = relayed::place::sent;
    f->node = static_cast<std::uint32_t>(int_at(*r, 1));
    {
        const std::lock_guard lock{figures_mutex_};
        ++figures_.forwarded;
    }
    // The owner answers within `wait`; beyond it the owner is taken as gone. watch_peers() ends
    // it sooner when its inbox has no listener.
    if (!watching_) {
        watching_ = true;
        asio::co_spawn(strand_, watch_peers(), asio::detached);
    }
    if (!f->done) {  // its outcome may have come during the route's round trip
        f->timer.expires_after(wait);
        co_await f->timer.async_wait(kit::use_nothrow);
    }
    forwarded_.erase(ticket);
    out.outcome = std::move(f->outcome);
    out.code = out.outcome ? out.outcome->code : f->code;
    const std::lock_guard lock{figures_mutex_};
    switch (out.code) {
        case rrpc::rrpc_code::success: ++figures_.forwarded_success; break;
        case rrpc::rrpc_code::timeout: ++figures_.forwarded_timeout; break;
        case rrpc::rrpc_code::offline: ++figures_.forwarded_offline; break;
        case rrpc::rrpc_code::halfconn: ++figures_.forwarded_halfconn; break;
        case rrpc::rrpc_code::unknown: ++figures_.forwarded_unknown; break;
    }
    co_return out;
}

asio::awaitable<rrpc::router::call_outcome> member::forward(rrpc::call_request request,
                                                            std::size_t max_pending) {
    rrpc::router::call_outcome out;
    out.result.message_id = request.message_id;
    const auto ticket = ++next_ticket_;
    const auto timeout = request.timeout;
    const auto device = request.device;
    call_envelope c{.origin = node_,
                    .ticket = ticket,
                    .device = std::move(request.device),
                    .topic = std::move(request.topic),
                    .payload = std::move(request.payload),
                    .timeout_ms = static_cast<std::uint32_t>(timeout.count()),
                    .kind = request.kind,
                    .identifier = std::move(request.identifier),
                    .message_id = request.message_id,
                    .max_pending = static_cast<std::uint32_t>(max_pending)};
    // The owner answers within the call's timeout (and a margin for the hops).
    auto bytes = encode(c);
    const auto wait = timeout + settings_.op_timeout + std::chrono::seconds{1};
    auto there = co_await relay(device, ticket, std::move(bytes), wait);
    switch (there.where) {
        case relayed::place::unavailable: out.unavailable = true; break;
        case relayed::place::offline: out.result.code = rrpc::rrpc_code::offline; break;
        case relayed::place::halfconn: out.result.code = rrpc::rrpc_code::halfconn; break;
        case relayed::place::sent:
            out.result.code = there.code;
            if (there.outcome) {
                out.result.message_id = there.outcome->message_id;
                out.result.payload = std::move(there.outcome->payload);
                out.waiting = there.outcome->waiting;
            }
            break;
    }
    co_return out;
}

asio::awaitable<member::relayed> member::send(send_envelope e) {
    // Named first: GCC 12 mishandles a temporary built inside a co_await expression.
    auto there = asio::co_spawn(strand_, forward_send(std::move(e)), asio::use_awaitable);
    co_return co_await std::move(there);
}

asio::awaitable<member::relayed> member::forward_send(send_envelope e) {
    e.origin = node_;
    e.ticket = ++next_ticket_;
    const auto device = e.device;
    const auto ticket = e.ticket;
    // The owner answers once it sent or queued it, and for QoS 1 once its store has it.
    auto bytes = encode(e);
    const auto wait = 2 * settings_.op_timeout + std::chrono::seconds{5};
    auto there = co_await relay(device, ticket, std::move(bytes), wait);
    co_return there;
}

asio::awaitable<void> member::watch_peers() {
    // While calls wait on other nodes: every 250 ms, a node whose inbox lost its listener (its
    // process died: Redis saw its connection close) ends its calls HALFCONN.
    const auto self = shared_from_this();
    asio::steady_timer timer{strand_};
    while (!forwarded_.empty() && !stopping_) {
        timer.expires_after(std::chrono::milliseconds{250});
        co_await timer.async_wait(kit::use_nothrow);
        std::set<std::uint32_t> nodes;
        for (const auto& [ticket, f] : forwarded_)
            if (f->node) nodes.insert(*f->node);
        for (const auto node : nodes) {
            auto argv = listeners_call(node);
            const auto r = co_await commands_->command(std::move(argv));
            counted(purpose::watch, r.has_value());
            if (!is_array(r) || int_at(*r, 1) != 0) continue;
            for (auto& [ticket, f] : forwarded_)
                if (f->node == node && !f->outcome) f->end(rrpc::rrpc_code::halfconn);
        }
    }
    watching_ = false;
}

void member::on_inbox(std::string_view bytes) {
    auto e = decode(bytes);
    if (!e) {
        log_->warn("event=cluster_bad_envelope bytes={}", bytes.size());
        return;
    }
    if (auto* c = std::get_if<call_envelope>(&*e)) {
        asio::co_spawn(io_, serve(std::move(*c)), asio::detached);
    } else if (auto* o = std::get_if<outcome_envelope>(&*e)) {
        asio::post(strand_, [self = shared_from_this(), o = std::move(*o)]() mutable {
            const auto at = self->forwarded_.find(o.ticket);
            if (at == self->forwarded_.end()) {
                const std::lock_guard lock{self->figures_mutex_};
                ++self->figures_.orphans;
                return;
            }
            if (at->second->done) return;
            at->second->outcome = std::move(o);
            at->second->end(at->second->outcome->code);
        });
    } else if (auto* k = std::get_if<kick_envelope>(&*e)) {
        if (kick) kick(k->device, k->session, k->forget);
    } else if (auto* sending = std::get_if<send_envelope>(&*e)) {
        asio::co_spawn(io_, serve_sending(std::move(*sending)), asio::detached);
    }
}

asio::awaitable<void> member::serve(call_envelope c) {
    const auto self = shared_from_this();
    const auto origin = c.origin;
    auto o = answer_to(c.ticket, c.message_id);
    if (serve_call) {
        rrpc::call_request request{.device = std::move(c.device),
                                   .payload = std::move(c.payload),
                                   .topic = std::move(c.topic),
                                   .timeout = std::chrono::milliseconds{c.timeout_ms},
                                   .kind = c.kind,
                                   .identifier = std::move(c.identifier),
                                   .message_id = c.message_id};
        auto serving = serve_call(std::move(request), c.max_pending);
        auto outcome = co_await std::move(serving);
        o.code = outcome.result.code;
        o.message_id = outcome.result.message_id;
        o.payload = std::move(outcome.result.payload);
        o.waiting = static_cast<std::uint32_t>(outcome.waiting);
    }
    auto answer = encode(o);
    co_await publish(origin, std::move(answer));
}

asio::awaitable<void> member::serve_sending(send_envelope e) {
    const auto self = shared_from_this();
    const auto origin = e.origin;
    auto o = answer_to(e.ticket, e.message_id);
    if (serve_send) {
        auto serving = serve_send(std::move(e));
        o = co_await std::move(serving);
    }
    auto answer = encode(o);
    co_await publish(origin, std::move(answer));
}

outcome_envelope member::answer_to(std::uint64_t ticket, std::uint64_t message_id) {
    {
        const std::lock_guard lock{figures_mutex_};
        ++figures_.served;
    }
    return {.ticket = ticket,
            .code = rrpc::rrpc_code::unknown,
            .message_id = message_id,
            .waiting = 0,
            .payload = {}};
}

asio::awaitable<std::optional<std::vector<rrpc::liveness>>> member::liveness_of(
    std::vector<catalog::device_key> devices) {
    std::vector<rrpc::liveness> out;
    if (devices.empty()) co_return out;
    std::vector<std::string> keys;
    keys.reserve(devices.size());
    for (const auto& d : devices) keys.push_back(presence_key(d));
    auto argv = script_call(scripts::status, std::move(keys), {});
    const auto r = co_await eval(purpose::route, std::move(argv));
    if (!is_array(r) || r->elements.size() != devices.size()) co_return std::nullopt;
    out.reserve(devices.size());
    for (const auto& e : r->elements)
        out.push_back(e.integer == 3   ? rrpc::liveness::online
                      : e.integer == 1 ? rrpc::liveness::half_connected
                                       : rrpc::liveness::offline);
    co_return out;
}

asio::awaitable<std::optional<rrpc::liveness>> member::liveness(catalog::device_key device) {
    auto argv = route_call(device, {});
    const auto r = co_await eval(purpose::route, std::move(argv));
    if (!is_array(r)) co_return std::nullopt;
    switch (int_at(*r, 0)) {
        case 1: co_return rrpc::liveness::half_connected;
        case 3: co_return rrpc::liveness::online;
        default: co_return rrpc::liveness::offline;
    }
}

void member::close(const catalog::device_key& device, bool forget) {
    asio::co_spawn(
        strand_,
        [](std::shared_ptr<member> self, catalog::device_key d,
           bool forget_too) -> asio::awaitable<void> {
            auto argv = route_call(d, {});
            const auto r = co_await self->eval(purpose::route, std::move(argv));
            if (!is_array(r) || int_at(*r, 0) != 3) co_return;
            const auto node = static_cast<std::uint32_t>(int_at(*r, 1));
            if (node != self->node_) {
                auto closing = encode(kick_envelope{d, 0, forget_too});
                co_await self->publish(node, std::move(closing));
            }
        }(shared_from_this(), device, forget),
        asio::detached);
}

member_figures member::figures() const {
    const std::lock_guard lock{figures_mutex_};
    auto out = figures_;
    out.node = node_;
    out.reachable = reachable();
    return out;
}

}  // namespace rrpcd::cluster
