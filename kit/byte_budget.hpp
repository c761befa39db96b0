#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rrpcd::kit {

/// Token buckets of bytes per key: each key may take up to `capacity` bytes per `period`,
/// refilled continuously (a key first seen starts full). At most `max_keys` keys are tracked;
/// past it, keys whose bucket is full again are forgotten, and a new key waits for room (it gets
/// nothing until then). Any thread (one lock).
class byte_budget {
public:
    using clock = std::chrono::steady_clock;

    byte_budget(clock::duration period, std::size_t max_keys)
        : period_(period), max_keys_(max_keys) {}

    /// Takes what `key` may spend now, at most `capacity`; what the caller does not spend it
    /// gives back (refund()).
    std::size_t take(std::string_view key, std::size_t capacity, clock::time_point now) {
        const std::lock_guard lock{mutex_};
        auto it = buckets_.find(std::string{key});
        if (it == buckets_.end()) {
            if (buckets_.size() >= max_keys_) forget_full(capacity, now);
            if (buckets_.size() >= max_keys_) return 0;
            it = buckets_.emplace(std::string{key}, bucket{static_cast<double>(capacity), now})
                     .first;
        }
        auto& b = it->second;
        const std::chrono::duration<double> elapsed = now - b.at;
        const std::chrono::duration<double> period = period_;
        b.tokens = std::min<double>(
            static_cast<double>(capacity),
            b.tokens + static_cast<double>(capacity) * (elapsed.count() / period.count()));
        b.at = now;
        const auto taken = static_cast<std::size_t>(b.tokens);
        b.tokens -= static_cast<double>(taken);
        return taken;
    }

    /// Gives back what a take() did not spend.
    void refund(std::string_view key, std::size_t bytes) {
        const std::lock_guard lock{mutex_};
        if (const auto it = buckets_.find(std::string{key}); it != buckets_.end())
            it->second.tokens += static_cast<double>(bytes);
    }

    std::size_t keys() const {
        const std::lock_guard lock{mutex_};
        return buckets_.size();
    }

private:
    struct bucket {
        double tokens;
        clock::time_point at;
    };
    void forget_full(std::size_t capacity, clock::time_point now) {
        std::erase_if(buckets_, [&](const auto& kv) {
            const std::chrono::duration<double> elapsed = now - kv.second.at;
            const std::chrono::duration<double> period = period_;
            return kv.second.tokens +
                       static_cast<double>(capacity) * (elapsed.count() / period.count()) >=
                   static_cast<double>(capacity);
        });
    }

    mutable std::mutex mutex_;  ///< buckets_
    clock::duration period_;
    std::size_t max_keys_;
    std::unordered_map<std::string, bucket> buckets_;
};

}  // namespace rrpcd::kit
