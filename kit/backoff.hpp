#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

namespace rrpcd::kit {

/// How long to wait before the next attempt after `failures` failed ones (1, 2, …): 250 ms
/// doubling up to `cap`; nullopt when that attempt would start past `window` since the first
/// (`elapsed` so far): then give up.
inline std::optional<std::chrono::milliseconds> retry_delay(
    int failures, std::chrono::milliseconds elapsed, std::chrono::milliseconds window,
    std::chrono::milliseconds cap = std::chrono::seconds{30}) {
    const auto doublings = std::clamp(failures - 1, 0, 20);
    const auto delay = std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds{250} * (std::int64_t{1} << doublings), cap);
    if (elapsed + delay > window) return std::nullopt;
    return delay;
}

}  // namespace rrpcd::kit
