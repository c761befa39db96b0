#pragma once

#include <chrono>
#include <cstdint>

namespace rrpcd::rrpc {

/// Generates RRPC MessageIds: 53 bits, so JavaScript numbers hold them exactly, laid out as
/// [40 bits: ms since 2025-01-01 UTC][5 bits: node][8 bits: sequence].
/// Unique across restarts (the store's ids are resumed after, so a wall clock stepped back does
/// not repeat one that is still queued or pending), and across up to 32 nodes with distinct ids.
/// More than 256 ids in one millisecond borrow the next millisecond, so ids stay strictly
/// increasing; only a sustained rate above 256,000/s would run ahead of the clock.
/// Not thread-safe: one generator per io thread (shard) with its own node id.
class message_id_generator {
public:
    static constexpr std::int64_t epoch_ms = 1'735'689'600'000;  // 2025-01-01T00:00:00Z
    static constexpr unsigned node_bits = 5;
    static constexpr unsigned sequence_bits = 8;
    static constexpr std::uint32_t max_node = (1U << node_bits) - 1;

    /// `node` must be at most `max_node` (the config validates it).
    explicit message_id_generator(std::uint32_t node) noexcept : node_(node) {}

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

private:
    std::uint32_t node_;
    std::int64_t last_ms_ = 0;
    std::uint32_t sequence_ = 0;
};

}  // namespace rrpcd::rrpc
