#include "http/rate_limiter.hpp"

#include <algorithm>

namespace rrpcd::http {

bool rate_limiter::allow(std::string_view key_id, std::string_view action, std::uint32_t qps,
                         clock::time_point now, std::uint32_t cost) {
    if (qps == 0) return true;
    std::string key{key_id};
    key += '\n';
    key += action;
    auto [it, fresh] = buckets_.try_emplace(std::move(key), bucket{static_cast<double>(qps), now});
    auto& b = it->second;
    const std::chrono::duration<double> elapsed = now - b.at;
    b.tokens = std::min<double>(qps, b.tokens + elapsed.count() * qps);
    b.at = now;
    if (b.tokens < cost) return false;
    b.tokens -= cost;
    return true;
}

}  // namespace rrpcd::http
