#include "rrpc/kept_sessions.hpp"

namespace rrpcd::rrpc {

const kept_session* kept_sessions::resume(const catalog::device_key& device, std::int64_t now_ms) {
    const auto it = sessions_.find(device);
    if (it == sessions_.end()) return nullptr;
    if (is_expired(it->second, now_ms)) {
        sessions_.erase(it);
        ++expired_;
        return nullptr;
    }
    it->second.last_seen_ms = now_ms;
    it->second.online = true;
    return &it->second;
}

void kept_sessions::keep(const catalog::device_key& device, kept_session session) {
    sessions_.insert_or_assign(device, std::move(session));
}

const kept_session* kept_sessions::left(const catalog::device_key& device, std::int64_t now_ms) {
    const auto it = sessions_.find(device);
    if (it == sessions_.end()) return nullptr;
    it->second.online = false;
    it->second.last_seen_ms = now_ms;
    return &it->second;
}

bool kept_sessions::discard(const catalog::device_key& device) {
    return sessions_.erase(device) != 0;
}

std::vector<catalog::device_key> kept_sessions::expire(std::int64_t now_ms) {
    std::vector<catalog::device_key> gone;
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        if (is_expired(it->second, now_ms)) {
            gone.push_back(it->first);
            it = sessions_.erase(it);
        } else {
            ++it;
        }
    }
    expired_ += gone.size();
    return gone;
}

}  // namespace rrpcd::rrpc
