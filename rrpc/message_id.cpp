#include "rrpc/message_id.hpp"

#include <algorithm>

namespace rrpcd::rrpc {

std::uint64_t message_id_generator::next(std::chrono::system_clock::time_point now) noexcept {
    const auto ms = std::max<std::int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() -
            epoch_ms,
        0);
    const std::lock_guard lock{mutex_};
    if (ms > last_ms_) {
        last_ms_ = ms;
        sequence_ = 0;
    } else if (++sequence_ == (1U << sequence_bits)) {
        ++last_ms_;  // borrow the next millisecond; the clock catches up
        sequence_ = 0;
    }
    return static_cast<std::uint64_t>(last_ms_) << low_bits | low_ | sequence_;
}

void message_id_generator::resume_after(std::uint64_t id) noexcept {
    const auto ms = static_cast<std::int64_t>(id >> low_bits);
    const std::lock_guard lock{mutex_};
    if (ms < last_ms_) return;
    last_ms_ = ms;
    sequence_ = (1U << sequence_bits) - 1;  // the next id borrows the millisecond after it
}

std::uint64_t message_id_generator::floor(std::chrono::system_clock::time_point now,
                                          std::chrono::milliseconds ahead) const noexcept {
    const std::lock_guard lock{mutex_};
    const auto ms = std::max<std::int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>((now + ahead).time_since_epoch())
                .count() -
            epoch_ms,
        last_ms_);
    return static_cast<std::uint64_t>(ms) << low_bits | ((1U << low_bits) - 1);
}

std::int64_t message_id_generator::time_ms_of(std::uint64_t id) noexcept {
    return static_cast<std::int64_t>(id >> low_bits) + epoch_ms;
}

}  // namespace rrpcd::rrpc
