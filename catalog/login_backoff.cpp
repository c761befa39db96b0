#include "catalog/login_backoff.hpp"

#include <algorithm>

namespace rrpcd::catalog {

bool login_backoff::blocked(const who& w, clock::time_point now) const {
    const auto it = entries_.find(w);
    return it != entries_.end() && now < it->second.until;
}

void login_backoff::failed(const who& w, clock::time_point now) {
    auto it = entries_.find(w);
    if (it == entries_.end()) {
        if (entries_.size() >= capacity_)
            std::erase_if(entries_, [&](const auto& e) {
                return e.second.until <= now && e.second.last + settings_.max_delay <= now;
            });
        if (entries_.size() >= capacity_) return;
        it = entries_.emplace(w, entry{}).first;
    }
    auto& e = it->second;
    // A failure long after the last one starts over.
    if (e.last + settings_.max_delay <= now) e.failures = 0;
    e.last = now;
    if (++e.failures < settings_.failures) return;
    const auto doublings = std::min<std::uint32_t>(e.failures - settings_.failures, 30);
    const auto delay =
        std::min(std::chrono::seconds{std::int64_t{1} << doublings}, settings_.max_delay);
    e.until = now + delay;
}

}  // namespace rrpcd::catalog
