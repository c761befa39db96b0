#include "uplink/group_queue.hpp"

#include <algorithm>

namespace rrpcd::uplink {

bool group_queue::push(message_ptr m, std::int64_t now_ms) {
    if (messages_.contains(m->id)) return true;
    const auto c = cost(*m);
    if (bytes_ + c > limits_.max_bytes) {
        ++counts_.refused;
        return false;
    }
    bytes_ += c;
    const auto id = m->id;
    ready_.push_back(id);
    messages_.emplace(id, entry{std::move(m), now_ms});
    ++counts_.queued;
    return true;
}

group_queue::message_ptr group_queue::take(consumer_id c, std::int64_t now_ms) {
    while (!ready_.empty()) {
        const auto id = ready_.front();
        ready_.pop_front();
        const auto it = messages_.find(id);
        // An id settled or expired while it was ready again, or a stale duplicate entry.
        if (it == messages_.end() || it->second.holder != 0) continue;
        auto& e = it->second;
        e.holder = c;
        e.sent_ms = now_ms;
        if (e.sent_before) ++counts_.redelivered;
        e.sent_before = true;
        ++counts_.delivered;
        return e.message;
    }
    return nullptr;
}

void group_queue::forget(std::unordered_map<std::uint64_t, entry>::iterator it) {
    bytes_ -= cost(*it->second.message);
    messages_.erase(it);
}

bool group_queue::settle(consumer_id c, std::uint64_t id, outcome o) {
    const auto it = messages_.find(id);
    if (it == messages_.end()) return false;
    auto& e = it->second;
    if (o == outcome::released) {
        if (e.holder != c) return false;  // given to another meanwhile
        e.holder = 0;
        ready_.push_front(id);
        return false;
    }
    ++(o == outcome::accepted ? counts_.accepted : counts_.rejected);
    forget(it);
    return true;
}

std::size_t group_queue::leave(consumer_id c) {
    std::vector<std::uint64_t> held;
    for (auto& [id, e] : messages_)
        if (e.holder == c) {
            e.holder = 0;
            held.push_back(id);
        }
    // Oldest first at the front.
    std::sort(held.begin(), held.end());
    for (auto it = held.rbegin(); it != held.rend(); ++it) ready_.push_front(*it);
    return held.size();
}

std::vector<std::uint64_t> group_queue::expire(std::int64_t now_ms) {
    std::vector<std::uint64_t> gone;
    std::vector<std::uint64_t> late;
    for (auto it = messages_.begin(); it != messages_.end();) {
        auto& e = it->second;
        if (now_ms - e.queued_ms >= limits_.max_age.count()) {
            gone.push_back(it->first);
            ++counts_.expired;
            bytes_ -= cost(*e.message);
            it = messages_.erase(it);
            continue;
        }
        if (e.holder != 0 && now_ms - e.sent_ms >= limits_.ack_timeout.count()) {
            e.holder = 0;
            late.push_back(it->first);
        }
        ++it;
    }
    std::sort(late.begin(), late.end());
    for (auto it = late.rbegin(); it != late.rend(); ++it) ready_.push_front(*it);
    // Ready ids of gone messages are skipped by take(); drop them when they pile up.
    if (ready_.size() > 2 * messages_.size() + 64)
        std::erase_if(ready_, [&](std::uint64_t id) {
            const auto m = messages_.find(id);
            return m == messages_.end() || m->second.holder != 0;
        });
    return gone;
}

}  // namespace rrpcd::uplink
