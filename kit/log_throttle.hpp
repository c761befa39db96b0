#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rrpcd::kit {

/// Rate-limits log lines per key (a peer's address): at most `per_window` lines per key in each
/// window; the ones past it are counted, and the next line let through carries that count. At
/// most `max_keys` keys are tracked: past it, a new key's lines are counted in one shared
/// count instead. A flood from one peer, or from many, logs a bounded number of lines. Any
/// thread (one lock): every plane's sessions share one throttle.
class log_throttle {
public:
    using clock = std::chrono::steady_clock;

    log_throttle(std::size_t per_window, clock::duration window, std::size_t max_keys)
        : per_window_(per_window), window_(window), max_keys_(max_keys) {}

    /// nullopt: do not log this one. Else log it, with the number suppressed before it.
    std::optional<std::uint64_t> allow(std::string_view key, clock::time_point now) {
        const std::lock_guard lock{mutex_};
        auto it = keys_.find(std::string{key});
        if (it == keys_.end()) {
            if (keys_.size() >= max_keys_ && now - swept_ >= window_) {  // once per window
                swept_ = now;
                forget_before(now - window_);
            }
            if (keys_.size() >= max_keys_) {
                ++untracked_;
                return std::nullopt;
            }
            it = keys_.emplace(std::string{key}, entry{now, 0, 0}).first;
        }
        auto& e = it->second;
        if (now - e.started >= window_) e = {now, 0, e.suppressed};
        if (e.lines >= per_window_) {
            ++e.suppressed;
            return std::nullopt;
        }
        ++e.lines;
        const auto suppressed = e.suppressed + untracked_;
        e.suppressed = 0;
        untracked_ = 0;
        return suppressed;
    }

    std::size_t keys() const {
        const std::lock_guard lock{mutex_};
        return keys_.size();
    }

private:
    struct entry {
        clock::time_point started;
        std::size_t lines;
        std::uint64_t suppressed;
    };
    void forget_before(clock::time_point t) {
        std::erase_if(keys_, [&](const auto& kv) {
            return kv.second.started < t && kv.second.suppressed == 0;
        });
    }

    mutable std::mutex mutex_;  ///< everything below
    std::size_t per_window_;
    clock::duration window_;
    std::size_t max_keys_;
    std::unordered_map<std::string, entry> keys_;
    std::uint64_t untracked_ = 0;
    clock::time_point swept_{};
};

}  // namespace rrpcd::kit
