#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace rrpcd::kit {

/// A latency histogram in seconds with fixed buckets (1 ms to 10 s, then +Inf), as Prometheus
/// renders it: cumulative counts, their sum and count. One thread.
struct histogram {
    static constexpr std::array<double, 13> bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                   0.1,    0.25,  0.5,    1,     2.5,  10};
    std::array<std::uint64_t, bounds.size() + 1> counts{};  ///< per bucket (not cumulative)
    double sum = 0;
    std::uint64_t count = 0;

    void observe(double seconds) noexcept {
        std::size_t i = 0;
        while (i < bounds.size() && seconds > bounds[i]) ++i;
        ++counts[i];
        sum += seconds;
        ++count;
    }
};

}  // namespace rrpcd::kit
