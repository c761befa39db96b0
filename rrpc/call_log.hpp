#pragma once

#include "catalog/device_key.hpp"

#include <boost/asio/awaitable.hpp>

#include <array>
#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rrpcd::rrpc {

/// Which API made a call.
enum class call_kind : std::uint8_t { rrpc, async_rrpc, thing_sync, thing_async };
/// Where a call stands: waiting, answered, or ended without an answer.
enum class call_state : std::uint8_t { pending, replied, timeout, offline, halfconn, unknown };

std::string_view to_string(call_kind k) noexcept;
std::string_view to_string(call_state s) noexcept;

/// One call's outcome, kept for lookup by MessageId.
struct call_record {
    using clock = std::chrono::system_clock;
    std::uint64_t message_id = 0;
    call_kind kind = call_kind::rrpc;
    catalog::device_key device{};
    std::string topic{};       ///< where the request went
    std::string request{};     ///< its bytes
    std::string identifier{};  ///< thing service, if any
    call_state state = call_state::pending;
    std::string reply_topic{};
    std::string reply{};  ///< the device's bytes
    clock::time_point created{};
    clock::time_point
        published{};            ///< handed to the device's session (epoch: not yet, or not known)
    clock::time_point acked{};  ///< the device's PUBACK of a QoS 1 request (epoch: none yet)
    clock::time_point finished{};
    std::string owner{};  ///< the access key that made it (async budgets are per key)

    /// The bytes it holds (the budgets count them).
    std::size_t bytes() const noexcept {
        return topic.size() + request.size() + reply_topic.size() + reply.size() + owner.size();
    }
};

/// True for the calls whose outcome is the caller's only way to learn the answer (AsyncRRpc,
/// async thing services): they are kept for their retention, in the store when there is one.
constexpr bool is_async(call_kind k) noexcept {
    return k == call_kind::async_rrpc || k == call_kind::thing_async;
}

/// A place in the order answered async calls were answered: (finished, MessageId).
struct answer_cursor {
    std::int64_t finished_ms = 0;
    std::uint64_t message_id = 0;
    auto operator<=>(const answer_cursor&) const = default;
};
answer_cursor cursor_of(const call_record& answered) noexcept;

/// Answered async calls, to read back by MessageId and in the order they were answered (a
/// reply stream's `Last-Event-ID`). The store implements it over its calls table; the call
/// log over the ended calls it keeps in memory (no store).
class call_archive {
public:
    /// The call `message_id`, if kept.
    virtual std::optional<call_record> load(std::uint64_t message_id) = 0;
    /// Where the answered async call `message_id` is in the answer order, if kept.
    virtual std::optional<answer_cursor> answered_at(std::uint64_t message_id) = 0;
    /// The answered async calls after `from`, up to `to` included, oldest first, at most `rows`.
    virtual std::vector<call_record> answered(answer_cursor from, answer_cursor to,
                                              std::size_t rows) = 0;
    /// Of the answered async calls after `from` up to `to`: the place after which the newest
    /// ones fit `max_count` events and `max_bytes` bytes (an event costs its reply's bytes and
    /// `event_overhead`), and how many older ones that leaves out.
    struct fitting {
        answer_cursor start;
        std::size_t left_out = 0;
    };
    virtual fitting newest_fitting(answer_cursor from, answer_cursor to, std::size_t max_count,
                                   std::size_t max_bytes) = 0;
    /// What an event costs beyond its reply's bytes (its forwarding JSON's fields).
    static constexpr std::size_t event_overhead = 400;

protected:
    ~call_archive() = default;
};

/// The calls of this process, by MessageId: every call while it waits, then its outcome for
/// `retention`. Ended calls of any kind are a lookup cache in memory, at most `max_records`
/// holding `max_record_bytes`, the oldest ended dropped for a new one; an async call's outcome
/// also goes to the store (`on_change`), which answers for it past the cache (`archive`).
/// Async calls waiting for their answer are bounded per access key (`owner`): at most
/// `max_async` of them holding `max_async_bytes`; add() refuses one more (the API then refuses
/// the call), and an answered one no longer counts. Any thread: one mutex, held for the map
/// work only (never across the archive's reads); `on_change` and the `each` visitors run under
/// it and must not call back into the log.
class call_log final : public call_archive {
public:
    struct limits {
        std::size_t max_records = 100'000;
        std::size_t max_record_bytes = 64 << 20;
        std::size_t max_async = 100'000;          ///< per owner
        std::size_t max_async_bytes = 256 << 20;  ///< per owner
    };

    call_log(std::chrono::seconds retention, limits l) : retention_(retention), limits_(l) {}

    /// Reads a record in place, under the lock.
    using visitor = std::function<void(const call_record&)>;

    /// Records a new call (state pending unless set) and forgets expired ones; false (and
    /// nothing recorded) when it is an async call waiting and its owner's budget is full.
    bool add(call_record record);
    /// Start-up: an async call the store kept waiting, whatever the budget (it was accepted).
    void restore(call_record record);
    /// True when add() would refuse a waiting async call of `owner` holding `bytes`.
    bool async_full(std::string_view owner, std::size_t bytes);
    /// A copy of the call in memory (waiting, or ended and still in the cache).
    std::optional<call_record> find(std::uint64_t message_id) const;
    /// True while the call is in memory and waiting.
    bool pending(std::uint64_t message_id) const;
    /// The call, from memory or else from `archive` (an async outcome past the cache).
    std::optional<call_record> lookup(std::uint64_t message_id);
    /// lookup(), else `elsewhere` (cluster mode: an async call another node made, from the
    /// shared store).
    boost::asio::awaitable<std::optional<call_record>> lookup_anywhere(std::uint64_t message_id);
    /// Cluster mode (set at start): the call from the shared store, when another node made it.
    std::function<boost::asio::awaitable<std::optional<call_record>>(std::uint64_t)> elsewhere;
    /// Ends a pending call (`ended` reads it as it ended); false when it is unknown or already
    /// ended.
    bool finish(std::uint64_t message_id, call_state state, std::string reply_topic = {},
                std::string reply = {}, const visitor& ended = {});
    /// The request of a pending call went to its device's session now (the first time only).
    void published(std::uint64_t message_id);
    /// The device acknowledged the QoS 1 request of a pending call now (the first time only).
    void acknowledged(std::uint64_t message_id);

    std::size_t size() const;
    /// Bytes of the ended calls kept in memory.
    std::size_t bytes() const;
    /// Async calls waiting for their answer, of every owner.
    std::size_t async_waiting() const;
    /// The newest answered async call's place (where a replay that starts now ends).
    answer_cursor last_answered() const;

    /// A page of calls, newest first: at most `limit` of those `keep` admits, created before
    /// the call `before` (0: the newest), looking at no more than `scan` calls; `each` reads
    /// them. `next`: where the next page starts (0: none).
    struct page {
        std::size_t count = 0;
        std::uint64_t next = 0;
    };
    page recent(std::size_t limit, const std::function<bool(const call_record&)>& keep,
                const visitor& each, std::uint64_t before = 0, std::size_t scan = 10'000) const;

    /// The calls that started or ended after change `seen` (newest first, each once, at most
    /// `limit`; `each` reads those still kept), the newest change's number, and whether some
    /// were left out (more than `limit`, or older than the last changes kept): a live view's
    /// feed.
    struct changes {
        std::vector<std::uint64_t> ids;
        std::uint64_t seq = 0;
        bool truncated = false;
    };
    changes changed_since(std::uint64_t seen, std::size_t limit, const visitor& each = {}) const;
    std::uint64_t change_seq() const;

    /// Calls started, by kind; calls ended, by kind and state (the metrics).
    using kind_counts = std::array<std::uint64_t, 4>;
    using state_counts = std::array<std::array<std::uint64_t, 6>, 4>;
    kind_counts started() const;
    state_counts ended() const;

    /// Told of every record added and every one finished (the store keeps the async ones).
    std::function<void(const call_record&)> on_change;
    /// Where ended async calls are read back from past the cache (the store), or null.
    call_archive* archive = nullptr;

    // call_archive, over the ended calls in memory (the reply stream's when there is no store).
    std::optional<call_record> load(std::uint64_t message_id) override;
    std::optional<answer_cursor> answered_at(std::uint64_t message_id) override;
    std::vector<call_record> answered(answer_cursor from, answer_cursor to,
                                      std::size_t rows) override;
    fitting newest_fitting(answer_cursor from, answer_cursor to, std::size_t max_count,
                           std::size_t max_bytes) override;

private:
    struct budget {
        std::size_t count = 0;
        std::size_t bytes = 0;
    };
    bool waiting_async(const call_record& r) const noexcept {
        return is_async(r.kind) && r.state == call_state::pending;
    }
    call_record& keep(call_record record);
    /// Counts a record in (or out of) its owner's budget or the cache, by its state.
    void count_in(const call_record& r);
    void count_out(const call_record& r);
    /// Forgets calls created longer than the retention ago, and ended ones past the cache.
    void expire(call_record::clock::time_point now);
    void erase(std::map<std::uint64_t, call_record>::iterator it);
    bool async_full_locked(std::string_view owner, std::size_t bytes) const;
    const call_record* find_locked(std::uint64_t message_id) const;
    bool answered_async(const call_record& r) const noexcept {
        return is_async(r.kind) && r.state == call_state::replied;
    }

    mutable std::mutex mutex_;  ///< everything below
    std::chrono::seconds retention_;
    limits limits_;
    std::map<std::uint64_t, call_record> records_;  ///< by MessageId: the order they were made
    std::deque<std::uint64_t> cache_;               ///< ended calls, in the order they ended
    std::size_t ended_count_ = 0;                   ///< ended calls in records_
    std::size_t ended_bytes_ = 0;
    std::unordered_map<std::string, budget> owners_;  ///< waiting async calls, per owner
    std::size_t async_waiting_ = 0;
    answer_cursor last_answered_{};
    /// The latest changes (a call added or ended), numbered: (change, MessageId).
    void changed(std::uint64_t message_id);
    static constexpr std::size_t changes_kept = 4096;
    std::deque<std::pair<std::uint64_t, std::uint64_t>> changes_;
    std::uint64_t change_seq_ = 0;
    kind_counts started_{};
    state_counts ended_counts_{};
};

}  // namespace rrpcd::rrpc
