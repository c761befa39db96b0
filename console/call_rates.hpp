#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>

namespace rrpcd::console {

/// Calls ended per outcome: SUCCESS, TIMEOUT, OFFLINE, HALFCONN, UNKNOWN.
using outcome_counts = std::array<std::uint64_t, 5>;

/// The calls of the last minutes in 10-second buckets, from cumulative counts sampled now and
/// then (each second): what ended between two samples goes to the later one's bucket. Pure.
class call_rates {
public:
    using clock = std::chrono::steady_clock;
    static constexpr std::chrono::seconds width{10};
    static constexpr std::size_t kept = 30;  ///< five minutes

    struct bucket {
        clock::time_point start;
        outcome_counts ended{};
    };

    /// Takes the counts since start-up as of `now` (never smaller than the last ones).
    void sample(clock::time_point now, const outcome_counts& totals);
    /// Oldest first; gaps without calls are empty buckets; at most `kept`.
    const std::deque<bucket>& buckets() const noexcept { return buckets_; }

private:
    bool started_ = false;
    outcome_counts last_{};
    std::deque<bucket> buckets_;
};

}  // namespace rrpcd::console
