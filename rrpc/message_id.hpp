#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace rrpcd::rrpc {

/// Generates RRPC MessageIds: 53 bits, so JavaScript numbers hold them exactly, laid out as
/// [40 bits: ms since 2025-01-01 UTC][5 bits: node][4 bits: shard][4 bits: sequence].
/// Unique across restarts (the store's ids are resumed after, so a wall clock stepped back does
/// not repeat one that is still queued or pending), and across up to 32 nodes × 16 shards
/// (device planes) with distinct (node, shard) pairs. More than 16 ids in one millisecond
/// borrow the next millisecond, so each generator's ids stay strictly increasing; only a
/// sustained rate above 16,000/s per shard (256,000/s for a node of 16) would run ahead of the
/// clock. The time takes the same 40 top bits as in the layout before shards (5 node and 8
/// sequence bits), so ids made before an upgrade compare and decode the same.
/// One generator per device plane, with its own (node, shard); any thread (the API takes ids
/// from the plane of the device it calls), under its own lock.
class message_id_generator {
public:
    static constexpr std::int64_t epoch_ms = 1'735'689'600'000;  // 2025-01-01T00:00:00Z
    static constexpr unsigned node_bits = 5;
    static constexpr unsigned shard_bits = 4;
    static constexpr unsigned sequence_bits = 4;
    static constexpr unsigned low_bits =
        node_bits + shard_bits + sequence_bits;  ///< below the time
    static constexpr std::uint32_t max_node = (1U << node_bits) - 1;
    static constexpr std::uint32_t max_shard = (1U << shard_bits) - 1;

    /// `node` must be at most `max_node` (the config validates it), `shard` at most
    /// `max_shard` (the server has at most 16 device planes).
    explicit message_id_generator(std::uint32_t node, std::uint32_t shard = 0) noexcept
        : low_(node << (shard_bits + sequence_bits) | shard << sequence_bits) {}

    /// Sets the node bits: the slot the cluster gave this node (at start, before any id).
    void set_node(std::uint32_t node) noexcept {
        const std::lock_guard lock{mutex_};
        low_ = node << (shard_bits + sequence_bits) |
               (low_ & ((1U << (shard_bits + sequence_bits)) - 1));
    }

    /// The next id, given the current wall-clock time.
    std::uint64_t next(std::chrono::system_clock::time_point now) noexcept;

    /// Every later id is greater than `id` (one handed out before a restart, kept in the
    /// store), even when the wall clock now reads earlier than when `id` was made.
    void resume_after(std::uint64_t id) noexcept;

    /// An id above every id issued so far and every id issued before `now + ahead` (the
    /// floor a restart resumes after: persisted each second, it keeps ids unique across a
    /// restart even when the clock is set back).
    std::uint64_t floor(std::chrono::system_clock::time_point now,
                        std::chrono::milliseconds ahead) const noexcept;

    /// The wall-clock millisecond encoded in an id (for diagnostics and tests).
    static std::int64_t time_ms_of(std::uint64_t id) noexcept;
    /// The node bits of an id (the node that issued it).
    static constexpr std::uint32_t node_of(std::uint64_t id) noexcept {
        return static_cast<std::uint32_t>(id >> (shard_bits + sequence_bits)) & max_node;
    }

private:
    mutable std::mutex mutex_;  ///< last_ms_ and sequence_
    std::uint32_t low_;         ///< node and shard, in place
    std::int64_t last_ms_ = 0;
    std::uint32_t sequence_ = 0;
};

}  // namespace rrpcd::rrpc
