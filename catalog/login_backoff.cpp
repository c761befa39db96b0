#include "catalog/login_backoff.hpp"

#include "kit/crypto.hpp"

#include <algorithm>
#include <cstring>

namespace rrpcd::catalog {

login_backoff::who::who(const boost::asio::ip::address& from, std::string_view username)
    : address(from) {
    const auto digest = kit::sha256(username);
    std::memcpy(name.data(), digest.data(), name.size());
}

bool login_backoff::blocked(const who& w, clock::time_point now) const {
    const std::lock_guard lock{mutex_};
    const auto it = entries_.find(w);
    return it != entries_.end() && now < it->second.until;
}

void login_backoff::succeeded(const who& w) {
    const std::lock_guard lock{mutex_};
    if (const auto it = entries_.find(w); it != entries_.end()) {
        recent_.erase(it->second.place);
        entries_.erase(it);
    }
}

void login_backoff::evict_one(clock::time_point now) {
    // The least recent pair that is not blocked goes; a blocked one looked at moves to the
    // recent end (it is looked at again only after every other pair), so a flood of new names
    // does not push a blocked guesser out. At most a few are looked at: O(1) per failure.
    constexpr int looked_at = 4;
    for (int i = 0; i < looked_at && recent_.size() > 1; ++i) {
        const auto oldest = recent_.begin();
        if (entries_.at(*oldest).until <= now) break;
        recent_.splice(recent_.end(), recent_, oldest);
    }
    entries_.erase(recent_.front());
    recent_.pop_front();
    ++evicted_;
}

void login_backoff::failed(const who& w, clock::time_point now) {
    const std::lock_guard lock{mutex_};
    auto it = entries_.find(w);
    if (it == entries_.end()) {
        if (entries_.size() >= capacity_ && !recent_.empty()) evict_one(now);
        recent_.push_back(w);
        it = entries_.emplace(w, entry{}).first;
        it->second.place = std::prev(recent_.end());
    } else {
        recent_.splice(recent_.end(), recent_, it->second.place);  // now the most recent
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
