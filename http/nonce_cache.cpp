#include "http/nonce_cache.hpp"

#include <functional>
#include <string>

namespace rrpcd::http {

nonce_cache::verdict nonce_cache::check(std::string_view access_key_id, std::string_view nonce,
                                        clock::time_point signed_at, clock::time_point now) {
    if (signed_at < now - window_ || signed_at > now + window_ || signed_at <= floor_)
        return verdict::expired;
    while (!order_.empty() && order_.front().signed_at < now - window_) {
        seen_.erase(order_.front().hash);
        order_.pop_front();
    }
    std::string key{access_key_id};
    key += '\n';
    key += nonce;
    const auto hash = static_cast<std::uint64_t>(std::hash<std::string>{}(key));
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
