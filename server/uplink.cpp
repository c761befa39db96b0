#include "server/uplink.hpp"

#include "kit/unix_ms.hpp"
#include "kit/use_nothrow.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>

namespace rrpcd::server {

namespace asio = boost::asio;

namespace {
constexpr std::string_view queue_prefix = "amqp:";

/// A group's (or a tap's) kinds and products: none of either is all of them.
bool subscribes(const config::amqp_group& s, uplink::kind k, std::string_view product) noexcept {
    return (s.kinds.empty() || std::ranges::find(s.kinds, uplink::to_string(k)) != s.kinds.end()) &&
           (s.products.empty() || std::ranges::find(s.products, product) != s.products.end());
}
}  // namespace

struct uplink_service::group {
    config::amqp_group settings;
    std::string queue_name;  ///< `amqp:{id}`: its rows in the store
    uplink::group_queue queue;
    std::vector<std::pair<std::uint64_t, std::function<void()>>> consumers;
    std::size_t next_wake = 0;
    std::uint64_t next_consumer = 1;
    std::uint64_t refused_logged = 0;
    // What the metrics read from other threads: mirrored after each change.
    std::atomic<std::uint64_t> queued{0}, bytes{0}, consumer_count{0}, delivered{0}, accepted{0},
        redelivered{0}, refused{0}, expired{0};

    group(config::amqp_group s, std::chrono::milliseconds ack_timeout)
        : settings(std::move(s)),
          queue_name(std::string{queue_prefix} + settings.id),
          queue({settings.max_bytes, settings.max_age, ack_timeout}) {}

    bool wants(uplink::kind k, std::string_view product) const noexcept {
        return subscribes(settings, k, product);
    }
    void mirror() noexcept {
        const auto& c = queue.stats();
        queued = queue.size();
        bytes = queue.bytes();
        consumer_count = consumers.size();
        delivered = c.delivered;
        accepted = c.accepted;
        redelivered = c.redelivered;
        refused = c.refused;
        expired = c.expired;
    }
};

uplink_service::uplink_service(asio::any_io_executor ex, const config::amqp_settings& settings,
                               store::journal& journal, std::shared_ptr<spdlog::logger> log)
    : ex_(std::move(ex)), journal_(journal), log_(std::move(log)) {
    if (!settings.enabled()) return;
    auto groups = settings.groups;
    if (std::ranges::find(groups, std::string_view{"DEFAULT_GROUP"}, &config::amqp_group::id) ==
        groups.end())
        groups.insert(groups.begin(), config::amqp_group{.id = "DEFAULT_GROUP"});
    for (auto& g : groups)
        groups_.push_back(std::make_unique<group>(std::move(g), settings.ack_timeout));
}

uplink_service::~uplink_service() = default;

bool uplink_service::wanted(uplink::kind k, std::string_view product_key) const noexcept {
    if (std::ranges::any_of(groups_, [&](const auto& g) { return g->wants(k, product_key); }))
        return true;
    const std::lock_guard lock{taps_mutex_};
    return std::ranges::any_of(
        taps_, [&](const auto& t) { return subscribes(t.second.filter, k, product_key); });
}

void uplink_service::publish(uplink::event e) {
    if (!wanted(e.what, e.product_key)) return;
    const auto shared = std::make_shared<const uplink::event>(std::move(e));
    {
        const std::lock_guard lock{taps_mutex_};
        for (const auto& [token, t] : taps_)
            if (subscribes(t.filter, shared->what, shared->product_key))
                asio::post(t.where, [call = std::weak_ptr<const tap_fn>{t.call}, shared] {
                    if (const auto f = call.lock()) (*f)(shared);
                });
    }
    if (std::ranges::any_of(
            groups_, [&](const auto& g) { return g->wants(shared->what, shared->product_key); }))
        asio::post(ex_, [this, shared] { deliver(shared); });
}

std::uint64_t uplink_service::subscribe(asio::any_io_executor where, std::vector<std::string> kinds,
                                        std::vector<std::string> products, tap_fn call) {
    const std::lock_guard lock{taps_mutex_};
    const auto token = next_tap_++;
    taps_.emplace(
        token, tap_entry{std::move(where),
                         config::amqp_group{
                             .id = {}, .kinds = std::move(kinds), .products = std::move(products)},
                         std::make_shared<const tap_fn>(std::move(call))});
    return token;
}

void uplink_service::unsubscribe(std::uint64_t token) {
    const std::lock_guard lock{taps_mutex_};
    taps_.erase(token);
}

void uplink_service::deliver(const std::shared_ptr<const uplink::event>& e) {
    const auto now = kit::unix_ms();
    std::string stored;
    for (auto& g : groups_) {
        if (!g->wants(e->what, e->product_key)) continue;
        if (!g->queue.push(e, now)) {
            // Refused past the group's bound: counted (the metric), said at 1, 2, 4, 8…
            const auto n = g->queue.stats().refused;
            if ((n & (n - 1)) == 0)
                log_->warn(
                    "event=limit_hit limit=amqp_group_bytes group={} bytes={} refused={} "
                    "reason=\"its consumers take less than its devices send\"",
                    g->settings.id, g->queue.bytes(), n);
            g->mirror();
            continue;
        }
        if (stored.empty()) stored = uplink::encode(*e);
        journal_.delivery_queued(g->queue_name, e->id, now, stored);
        g->mirror();
        wake(*g);
    }
}

bool uplink_service::is_group_queue(std::string_view queue) noexcept {
    return queue.starts_with(queue_prefix);
}

void uplink_service::restore(std::string_view queue, std::uint64_t id, std::int64_t queued_ms,
                             std::string_view stored) {
    const auto name = queue.substr(queue_prefix.size());
    auto* g = find(name);
    auto e = uplink::decode(id, stored);
    if (g == nullptr || !e) {
        journal_.delivery_done(queue, id);
        const auto n = ++orphaned_;
        if ((n & (n - 1)) == 0)
            log_->warn("event=amqp_backlog_dropped group={} reason=\"{}\" count={}",
                       std::string{name},
                       g == nullptr ? "the group is no longer configured" : "unreadable row", n);
        return;
    }
    // A row past the group's bound now (max_bytes lowered since) is counted and forgotten, not
    // left in the store undelivered.
    if (!g->queue.push(std::make_shared<const uplink::event>(std::move(*e)), queued_ms))
        journal_.delivery_done(queue, id);
    g->mirror();
}

void uplink_service::start() {
    if (enabled()) asio::co_spawn(ex_, expire_loop(), asio::detached);
}

asio::awaitable<void> uplink_service::expire_loop() {
    asio::steady_timer tick{ex_};
    for (;;) {
        tick.expires_after(std::chrono::seconds{1});
        if (const auto [ec] = co_await tick.async_wait(kit::use_nothrow); ec) co_return;
        const auto now = kit::unix_ms();
        for (auto& g : groups_) {
            const auto gone = g->queue.expire(now);
            for (const auto id : gone) journal_.delivery_done(g->queue_name, id);
            if (!gone.empty())
                log_->warn(
                    "event=amqp_expired group={} messages={} expired_total={} max_age_s={} "
                    "reason=\"no consumer accepted them within the group's max_age_s\"",
                    g->settings.id, gone.size(), g->queue.stats().expired,
                    g->settings.max_age.count());
            g->mirror();
            if (g->queue.waiting() != 0) wake(*g);  // what timed out in flight, to the others
        }
    }
}

uplink_service::group* uplink_service::find(std::string_view id) noexcept {
    for (auto& g : groups_)
        if (g->settings.id == id) return g.get();
    return nullptr;
}

const std::string& uplink_service::id_of(const group& g) const noexcept {
    return g.settings.id;
}

std::uint64_t uplink_service::attach(group& g, std::function<void()> wake_up) {
    const auto id = g.next_consumer++;
    g.consumers.emplace_back(id, std::move(wake_up));
    g.mirror();
    return id;
}

uplink::group_queue::message_ptr uplink_service::take(group& g, std::uint64_t c) {
    auto m = g.queue.take(c, kit::unix_ms());
    if (m) g.mirror();
    return m;
}

void uplink_service::settle(group& g, std::uint64_t c, std::uint64_t id,
                            uplink::group_queue::outcome o) {
    if (g.queue.settle(c, id, o)) journal_.delivery_done(g.queue_name, id);
    g.mirror();
    if (o == uplink::group_queue::outcome::released) wake(g);
}

void uplink_service::leave(group& g, std::uint64_t c) {
    std::erase_if(g.consumers, [&](const auto& entry) { return entry.first == c; });
    if (g.queue.leave(c) != 0) wake(g);
    g.mirror();
}

void uplink_service::wake(group& g) {
    if (g.consumers.empty() || g.queue.waiting() == 0) return;
    // A consumer woken takes what its credit allows; starting one further each time spreads
    // the messages over the consumers. Copies: a wake may attach or leave.
    const auto n = g.consumers.size();
    const auto start = g.next_wake++ % n;
    std::vector<std::function<void()>> order;
    order.reserve(n);
    for (std::size_t i = 0; i < n; ++i) order.push_back(g.consumers[(start + i) % n].second);
    for (auto& w : order) {
        if (g.queue.waiting() == 0) break;
        w();
    }
}

std::vector<uplink_service::group_figures> uplink_service::figures() const {
    std::vector<group_figures> out;
    for (const auto& g : groups_)
        out.push_back({g->settings.id, g->queued, g->bytes, g->consumer_count, g->delivered,
                       g->accepted, g->redelivered, g->refused, g->expired});
    return out;
}

}  // namespace rrpcd::server
