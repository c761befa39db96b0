#include "rrpc/reply_hub.hpp"

#include <boost/asio/dispatch.hpp>

#include <utility>
#include <vector>

namespace rrpcd::rrpc {

std::uint64_t reply_hub::subscribe(boost::asio::any_io_executor where, subscriber s) {
    const std::lock_guard lock{mutex_};
    subscribers_.emplace(next_,
                         entry{std::move(where), std::make_shared<const subscriber>(std::move(s))});
    return next_++;
}

void reply_hub::unsubscribe(std::uint64_t token) {
    std::shared_ptr<const subscriber> gone;  // destroyed after the lock is released
    const std::lock_guard lock{mutex_};
    if (const auto it = subscribers_.find(token); it != subscribers_.end()) {
        gone = std::move(it->second.call);
        subscribers_.erase(it);
    }
}

std::size_t reply_hub::subscribers() const {
    const std::lock_guard lock{mutex_};
    return subscribers_.size();
}

void reply_hub::publish(const async_reply& reply) {
    // Taken under the lock, called without it: a subscriber may unsubscribe (itself or another)
    // from its callback. One copy of the reply for every subscriber.
    std::vector<std::pair<boost::asio::any_io_executor, std::weak_ptr<const subscriber>>> to;
    {
        const std::lock_guard lock{mutex_};
        to.reserve(subscribers_.size());
        for (const auto& [token, e] : subscribers_) to.emplace_back(e.where, e.call);
    }
    if (to.empty()) return;
    const auto shared = std::make_shared<const async_reply>(reply);
    for (auto& [where, call] : to)
        boost::asio::dispatch(where, [call = std::move(call), shared] {
            // Unsubscribed on this executor before it ran: nothing.
            if (const auto s = call.lock()) (*s)(*shared);
        });
}

}  // namespace rrpcd::rrpc
