#pragma once

#include "catalog/device_key.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
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
        published{};  ///< handed to the device's session (epoch: not yet, or not known)
    clock::time_point finished{};
};

/// True for the calls whose outcome is the caller's only way to learn the answer (AsyncRRpc,
/// async thing services): they are kept for their retention, never evicted.
constexpr bool is_async(call_kind k) noexcept {
    return k == call_kind::async_rrpc || k == call_kind::thing_async;
}

/// Call outcomes by MessageId for `retention`, in two budgets. Sync calls (RRpc, sync thing
/// services) are a lookup cache: at most `max_sync` records holding `max_sync_bytes` of payloads,
/// the oldest dropped for a new one. Async calls are kept for their retention whatever sync
/// traffic does; at most `max_async` records holding `max_async_bytes` are kept, and add()
/// refuses one more (the API then refuses the call). io thread only.
class call_log {
public:
    struct limits {
        std::size_t max_sync = 100'000;
        std::size_t max_sync_bytes = 64 << 20;
        std::size_t max_async = 100'000;
        std::size_t max_async_bytes = 256 << 20;
    };

    call_log(std::chrono::seconds retention, limits l) : retention_(retention), limits_(l) {}

    /// Records a new call (state pending unless set) and forgets expired ones; nullptr (and
    /// nothing recorded) when it is async and the async budget is full.
    call_record* add(call_record record);
    /// Start-up: an async call the store kept, whatever the budget (it was accepted).
    call_record& restore(call_record record);
    /// True when add() would refuse an async call of `bytes` request bytes.
    bool async_full(std::size_t bytes) noexcept;
    call_record* find(std::uint64_t message_id) noexcept;
    /// Ends a pending call; returns the record, or nullptr when it is unknown or already ended.
    call_record* finish(std::uint64_t message_id, call_state state, std::string reply_topic = {},
                        std::string reply = {});
    std::size_t size() const noexcept { return records_.size(); }
    std::size_t bytes() const noexcept { return sync_.bytes + async_.bytes; }
    std::size_t async_records() const noexcept { return async_.order.size(); }
    /// The answered async calls kept, in the order they were answered, from the one answered
    /// after `message_id`'s (all of them when it is not kept): a reply stream's Last-Event-ID.
    std::vector<const call_record*> answered_after(std::uint64_t message_id) const;
    /// The request of a pending call went to its device's session now (the first time only).
    void published(std::uint64_t message_id);
    /// The newest calls first, at most `limit` of those `keep` admits (looking at no more than
    /// `scan` records): the console's list.
    std::vector<const call_record*> recent(std::size_t limit,
                                           const std::function<bool(const call_record&)>& keep,
                                           std::size_t scan = 100'000) const;
    /// Calls started, by kind; calls ended, by kind and state (the metrics).
    using kind_counts = std::array<std::uint64_t, 4>;
    const kind_counts& started() const noexcept { return started_; }
    const std::array<std::array<std::uint64_t, 6>, 4>& ended() const noexcept { return ended_; }

    /// Told of every record added and every one finished (the store keeps some).
    std::function<void(const call_record&)> on_change;

private:
    /// One budget: its records by creation, and the bytes they hold.
    struct budget {
        std::deque<std::uint64_t> order;
        std::size_t bytes = 0;
    };
    budget& budget_of(call_kind k) noexcept { return is_async(k) ? async_ : sync_; }
    call_record& keep(call_record record);
    void expire(budget& b, call_record::clock::time_point now);
    void drop_oldest(budget& b);

    std::chrono::seconds retention_;
    limits limits_;
    budget sync_, async_;
    std::unordered_map<std::uint64_t, call_record> records_;
    kind_counts started_{};
    std::array<std::array<std::uint64_t, 6>, 4> ended_{};
};

}  // namespace rrpcd::rrpc
