#include "http/nonce_cache.hpp"

#include <boost/container_hash/hash.hpp>

#include <functional>

namespace rrpcd::http {

nonce_cache::verdict nonce_cache::check(std::string_view access_key_id, std::string_view nonce,
                                        clock::time_point signed_at, clock::time_point now) {
    if (signed_at < now - window_ || signed_at > now + window_ || signed_at <= floor_)
        return verdict::expired;
    while (!order_.empty() && order_.front().signed_at < now - window_) {
        seen_.erase(order_.front().hash);
        order_.pop_front();
    }
    // 64 bits of (key, nonce): a collision among a million remembered nonces refuses a fresh
    // request once in ~10^13, and never lets a replay through.
    auto hash = static_cast<std::uint64_t>(std::hash<std::string_view>{}(access_key_id));
    boost::hash_combine(hash, std::hash<std::string_view>{}(nonce));
    if (!seen_.insert(hash).second) return verdict::replayed;
    order_.push_back({hash, signed_at});
    if (order_.size() > capacity_) {
        floor_ = std::max(floor_, order_.front().signed_at);
        seen_.erase(order_.front().hash);
        order_.pop_front();
    }
    return verdict::fresh;
}

}  // namespace rrpcd::http
