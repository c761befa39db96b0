#include "rrpc/reply_hub.hpp"

#include <vector>

namespace rrpcd::rrpc {

std::uint64_t reply_hub::subscribe(subscriber s) {
    subscribers_.emplace(next_, std::move(s));
    return next_++;
}

void reply_hub::unsubscribe(std::uint64_t token) {
    subscribers_.erase(token);
}

void reply_hub::publish(const async_reply& reply) {
    // A subscriber may unsubscribe itself from its callback: iterate over a snapshot of tokens.
    std::vector<std::uint64_t> tokens;
    tokens.reserve(subscribers_.size());
    for (const auto& [token, s] : subscribers_) tokens.push_back(token);
    for (const auto token : tokens)
        if (const auto it = subscribers_.find(token); it != subscribers_.end()) it->second(reply);
}

}  // namespace rrpcd::rrpc
