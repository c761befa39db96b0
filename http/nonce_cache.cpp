#include "http/nonce_cache.hpp"

#include <boost/container_hash/hash.hpp>

#include <functional>

namespace rrpcd::http {

nonce_cache::verdict nonce_cache::check(std::string_view access_key_id, std::string_view nonce,
                                        clock::time_point signed_at, clock::time_point now) {
    if (signed_at < now - window_ || signed_at > now + window_) return verdict::expired;
    const auto key = static_cast<std::uint64_t>(std::hash<std::string_view>{}(access_key_id));
    if (const auto f = floors_.find(key); f != floors_.end() && signed_at <= f->second)
        return verdict::expired;
    while (!by_time_.empty() && by_time_.top().signed_at < now - window_) {
        seen_.erase(by_time_.top().hash);
        by_time_.pop();
    }
    // 64 bits of (key, nonce): a collision among a million remembered nonces refuses a fresh
    // request once in ~10^13, and never lets a replay through.
    auto hash = key;
    boost::hash_combine(hash, std::hash<std::string_view>{}(nonce));
    if (!seen_.insert(hash).second) return verdict::replayed;
    by_time_.push({signed_at, hash, key, arrivals_++});
    if (by_time_.size() > capacity_) forget_earliest();
    // Floors older than the window refuse nothing the window does not: forget them.
    if (floors_.size() > 64)
        boost::unordered::erase_if(floors_,
                                   [&](const auto& f) { return f.second < now - window_; });
    return verdict::fresh;
}

void nonce_cache::forget_earliest() {
    const auto e = by_time_.top();
    auto& floor = floors_[e.key];
    floor = std::max(floor, e.signed_at);
    seen_.erase(e.hash);
    by_time_.pop();
    ++forgotten_;
}

}  // namespace rrpcd::http
