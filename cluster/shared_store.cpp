#include "cluster/shared_store.hpp"

#include "cluster/records.hpp"
#include "cluster/scripts.hpp"
#include "kit/logfmt.hpp"
#include "kit/use_nothrow.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace rrpcd::cluster {

namespace asio = boost::asio;

namespace {

/// Records waiting for Redis past which busy() is true (the API refuses what it would keep).
constexpr std::size_t max_queued = 100'000;
/// Catalog records per script call at a first start (one reply each, not one per record).
constexpr std::size_t seed_batch = 300;

// Commands are made here, outside the coroutines (GCC 12 and string literals in coroutines).
std::vector<std::string> catalog_call(std::vector<std::string> triples, std::string_view mode) {
    triples.emplace_back(mode);
    return scripts::script_call(scripts::catalog_write, {}, std::move(triples));
}

void add_device(std::vector<std::string>& triples, const catalog::device_key& key,
                std::string json) {
    triples.emplace_back("d");
    triples.push_back(device_field(key));
    triples.push_back(std::move(json));
}

void add_product(std::vector<std::string>& triples, const std::string& product_key,
                 std::string json) {
    triples.emplace_back("p");
    triples.push_back(product_key);
    triples.push_back(std::move(json));
}

constexpr std::string_view products_hash = "rrpcd:products";
constexpr std::string_view devices_hash = "rrpcd:devices";

std::string call_key(std::uint64_t id) {
    return "rrpcd:call:" + std::to_string(id);
}

std::vector<std::string> command_of(std::initializer_list<std::string_view> words) {
    return {words.begin(), words.end()};
}

std::vector<std::string> get_all(std::string_view hash) {
    return command_of({"HGETALL", hash});
}

std::vector<std::string> seeded_mark() {
    return command_of({"GET", "rrpcd:catalog:seeded"});
}

std::vector<std::string> get_field(bool device, std::string_view field) {
    return command_of({"HGET", device ? devices_hash : products_hash, field});
}

std::vector<std::string> get_call(std::uint64_t id) {
    const auto key = call_key(id);
    return command_of({"GET", key});
}

std::vector<std::string> put_call(const rrpc::call_record& record, std::chrono::seconds retention) {
    const auto key = call_key(record.message_id);
    const auto ttl = std::to_string(std::chrono::milliseconds{retention}.count());
    auto argv = command_of({"SET", key, "", "PX", ttl});
    argv[2] = encode(record);
    return argv;
}

/// A first start's catalog as script calls of `seed_batch` records each (the last one marks
/// the cluster's catalog as made, even when empty).
std::vector<std::vector<std::string>> seed_calls(const catalog_rows& local) {
    std::vector<std::vector<std::string>> calls;
    std::vector<std::string> triples;
    const auto full = [&] {
        if (triples.size() < 3 * seed_batch) return;
        calls.push_back(catalog_call(std::move(triples), "seed"));
        triples.clear();
    };
    for (const auto& p : local.products) {
        add_product(triples, p.product_key, encode(p));
        full();
    }
    for (const auto& d : local.devices) {
        add_device(triples, d.key, encode(d));
        full();
    }
    calls.push_back(catalog_call(std::move(triples), "seed"));
    return calls;
}

bool failed(const redis_connection::result& r) {
    return !r || r->is_error();
}

}  // namespace

shared_store::shared_store(asio::io_context& io, store::journal& local,
                           std::chrono::seconds retention, std::shared_ptr<spdlog::logger> log)
    : local_(local), retention_(retention), log_(std::move(log)), strand_(asio::make_strand(io)) {}

void shared_store::attach(std::shared_ptr<member> m) {
    member_ = std::move(m);
    member_->on_catalog = [this](std::string_view change) {
        told_.fetch_add(1, std::memory_order_relaxed);
        asio::co_spawn(strand_, apply(std::string{change}), asio::detached);
    };
    member_->on_catalog_gap = [this] { refresh(); };
}

void shared_store::refresh() {
    asio::co_spawn(strand_, reload(), asio::detached);
}

void shared_store::write(std::vector<std::string> argv) {
    queued_.fetch_add(1, std::memory_order_relaxed);
    asio::post(strand_, [this, argv = std::move(argv)]() mutable {
        queue_.emplace_back(++issued_, std::move(argv));
        if (std::exchange(flushing_, true)) return;
        asio::co_spawn(strand_, flush(), asio::detached);
    });
}

asio::awaitable<void> shared_store::flush() {
    while (!queue_.empty()) {
        auto [seq, argv] = std::move(queue_.front());
        queue_.pop_front();
        const auto r = co_await member_->command(purpose::store, std::move(argv));
        queued_.fetch_sub(1, std::memory_order_relaxed);
        if (failed(r)) {
            if (failures_.size() >= 1024) failures_.erase(failures_.begin());
            failures_.push_back(seq);
            if (!std::exchange(healing_, true)) asio::co_spawn(strand_, heal(), asio::detached);
            log_->error("event=shared_store_write_failed error={}",
                        kit::logfmt_value(r ? r->text : std::string{to_string(r.error())}, 256));
        }
        written_ = seq;
        for (auto* w : waiters_) w->cancel();
    }
    flushing_ = false;
}

asio::awaitable<boost::system::error_code> shared_store::written() {
    const auto since = vouched_;
    const auto target = issued_;
    vouched_ = std::max(vouched_, target);
    asio::steady_timer wait{strand_, asio::steady_timer::time_point::max()};
    waiters_.push_back(&wait);
    while (written_ < target) co_await wait.async_wait(kit::use_nothrow);
    std::erase(waiters_, &wait);
    const bool lost = std::any_of(failures_.begin(), failures_.end(),
                                  [&](std::uint64_t f) { return f > since && f <= target; });
    co_return lost ? make_error_code(boost::system::errc::io_error) : boost::system::error_code{};
}

asio::awaitable<boost::system::error_code> shared_store::sync() {
    if (const auto ec = co_await local_.sync()) co_return ec;
    // Named first: GCC 12 mishandles a temporary built inside a co_await expression.
    auto there = asio::co_spawn(strand_, written(), asio::use_awaitable);
    co_return co_await std::move(there);
}

bool shared_store::busy() const noexcept {
    return local_.busy() || queued_.load(std::memory_order_relaxed) > max_queued;
}

asio::awaitable<boost::system::result<catalog_rows, std::string>> shared_store::read_catalog() {
    // Commands named first: GCC 12 mishandles a temporary built inside a co_await expression.
    auto products_argv = get_all(products_hash);
    auto devices_argv = get_all(devices_hash);
    auto products = co_await member_->command(purpose::store, std::move(products_argv));
    auto devices = co_await member_->command(purpose::store, std::move(devices_argv));
    if (failed(products) || failed(devices))
        co_return boost::system::result<catalog_rows, std::string>{
            boost::system::in_place_error, "Redis did not answer a read of the catalog"};
    catalog_rows rows;
    std::size_t unreadable = 0;
    const auto& p = products->elements;
    for (std::size_t i = 0; i + 1 < p.size(); i += 2) {
        if (auto r = decode_product(p[i].text, p[i + 1].text))
            rows.products.push_back(std::move(*r));
        else
            ++unreadable;
    }
    const auto& d = devices->elements;
    for (std::size_t i = 0; i + 1 < d.size(); i += 2) {
        const auto key = device_of_field(d[i].text);
        auto r = key ? decode_device(*key, d[i + 1].text) : std::nullopt;
        if (r)
            rows.devices.push_back(std::move(*r));
        else
            ++unreadable;
    }
    if (unreadable != 0)
        log_->error(
            "event=shared_catalog_unreadable records={} reason=\"not a record rrpcd wrote\"",
            unreadable);
    co_return rows;
}

asio::awaitable<boost::system::result<catalog_rows, std::string>> shared_store::load_catalog(
    catalog_rows local) {
    auto mark = seeded_mark();
    const auto seeded = co_await member_->command(purpose::store, std::move(mark));
    if (failed(seeded))
        co_return boost::system::result<catalog_rows, std::string>{
            boost::system::in_place_error, "Redis did not answer a read of the catalog"};
    if (seeded->kind == reply::type::nil) {
        // The cluster's first start: this node's catalog becomes the cluster's.
        auto calls = seed_calls(local);
        for (auto& argv : calls) {
            const auto r = co_await member_->command(purpose::store, std::move(argv));
            if (failed(r))
                co_return boost::system::result<catalog_rows, std::string>{
                    boost::system::in_place_error, "Redis did not take the catalog"};
        }
        log_->info("event=shared_catalog_seeded products={} devices={}", local.products.size(),
                   local.devices.size());
    }
    co_return co_await read_catalog();
}

asio::awaitable<void> shared_store::apply(std::string change) {
    // `d {pk}/{dn}` or `p {pk}`
    if (change.size() < 3 || change[1] != ' ') co_return;
    const auto what = change.substr(2);
    if (change[0] == 'd') {
        const auto key = device_of_field(what);
        if (!key) co_return;
        auto argv = get_field(true, what);
        const auto r = co_await member_->command(purpose::store, std::move(argv));
        if (failed(r)) {
            co_await reload();
            co_return;
        }
        if (r->kind == reply::type::nil) {
            if (on_device) on_device(*key, std::nullopt);
            co_return;
        }
        auto record = decode_device(*key, r->text);
        if (record && on_device) on_device(*key, std::move(record));
    } else if (change[0] == 'p') {
        auto argv = get_field(false, what);
        const auto r = co_await member_->command(purpose::store, std::move(argv));
        if (failed(r)) {
            co_await reload();
            co_return;
        }
        if (r->kind == reply::type::nil) co_return;
        auto record = decode_product(what, r->text);
        if (record && on_product) on_product(std::move(*record));
    }
}

asio::awaitable<void> shared_store::reload() {
    auto local = local_catalog ? local_catalog() : catalog_rows{};
    auto rows = co_await load_catalog(std::move(local));
    if (!rows) {
        // Redis is away again, or only this connection is back yet: read again each second
        // until it answers.
        log_->warn("event=shared_catalog_reload_failed reason={}", kit::logfmt_value(rows.error()));
        if (!std::exchange(healing_, true)) asio::co_spawn(strand_, heal(), asio::detached);
        co_return;
    }
    if (on_reloaded) on_reloaded(std::move(*rows));
}

asio::awaitable<void> shared_store::heal() {
    asio::steady_timer wait{strand_};
    for (;;) {
        wait.expires_after(std::chrono::seconds{1});
        if (const auto [ec] = co_await wait.async_wait(kit::use_nothrow); ec) co_return;
        auto local = local_catalog ? local_catalog() : catalog_rows{};
        auto rows = co_await load_catalog(std::move(local));
        if (!rows) continue;  // still away
        log_->info("event=shared_catalog_healed");
        if (on_reloaded) on_reloaded(std::move(*rows));
        healing_ = false;
        co_return;
    }
}

asio::awaitable<std::optional<rrpc::call_record>> shared_store::find_call(std::uint64_t id) {
    // Named first: GCC 12 mishandles a temporary built inside a co_await expression.
    auto there = asio::co_spawn(strand_, member_->command(purpose::store, get_call(id)),
                                asio::use_awaitable);
    const auto r = co_await std::move(there);
    if (failed(r) || r->kind != reply::type::text) co_return std::nullopt;
    auto record = decode_call(r->text);
    if (record && record->message_id != id) co_return std::nullopt;
    co_return record;
}

// The journal: every record to the node's own, and the shared ones to Redis as well.

void shared_store::message_accepted(const catalog::device_key& device,
                                    const rrpc::queued_message& message) {
    local_.message_accepted(device, message);
}

void shared_store::message_done(const catalog::device_key& device, std::uint64_t message_id) {
    local_.message_done(device, message_id);
}

void shared_store::device_saved(const catalog::device_record& device, urgency u) {
    local_.device_saved(device, u);
    std::vector<std::string> triples;
    // A lazy save is a first login's time (fleet::first_login): only that field, merged.
    const bool first_login = u == urgency::lazy;
    add_device(triples, device.key,
               first_login ? std::to_string(device.active_ms) : encode(device));
    write(catalog_call(std::move(triples), first_login ? "active" : "put"));
}

void shared_store::device_deleted(const catalog::device_key& device) {
    local_.device_deleted(device);
    std::vector<std::string> triples;
    add_device(triples, device, {});
    write(catalog_call(std::move(triples), "put"));
}

void shared_store::product_saved(const catalog::product_record& product) {
    local_.product_saved(product);
    std::vector<std::string> triples;
    add_product(triples, product.product_key, encode(product));
    write(catalog_call(std::move(triples), "put"));
}

void shared_store::call_saved(const rrpc::call_record& record) {
    local_.call_saved(record);
    write(put_call(record, retention_));
}

void shared_store::session_saved(const catalog::device_key& device, const rrpc::kept_session& s,
                                 urgency u) {
    local_.session_saved(device, s, u);
}

void shared_store::session_deleted(const catalog::device_key& device) {
    local_.session_deleted(device);
}

void shared_store::delivery_queued(std::string_view queue, std::uint64_t message_id,
                                   std::int64_t queued_ms, std::string_view body) {
    local_.delivery_queued(queue, message_id, queued_ms, body);
}

void shared_store::delivery_done(std::string_view queue, std::uint64_t message_id) {
    local_.delivery_done(queue, message_id);
}

void shared_store::properties_saved(const catalog::device_key& device,
                                    const std::vector<catalog::property_value>& values) {
    local_.properties_saved(device, values);
}

void shared_store::id_floor_saved(std::uint64_t floor, urgency u) {
    local_.id_floor_saved(floor, u);
}

}  // namespace rrpcd::cluster
