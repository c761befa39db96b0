#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rrpcd::http {

/// Per access key and action token buckets, like the cloud's QPS limits: up to `qps` calls in
/// any second, refilled continuously. io thread only.
class rate_limiter {
public:
    using clock = std::chrono::steady_clock;

    /// True when the call may go ahead, taking `cost` tokens (a batch: one per device); `qps` 0
    /// means unlimited. A cost above `qps` is never allowed (the bucket holds at most `qps`).
    bool allow(std::string_view key_id, std::string_view action, std::uint32_t qps,
               clock::time_point now, std::uint32_t cost = 1);

private:
    struct bucket {
        double tokens = 0;
        clock::time_point at{};
    };
    std::unordered_map<std::string, bucket> buckets_;
};

}  // namespace rrpcd::http
