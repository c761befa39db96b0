#include "rrpc/outbox.hpp"

#include <algorithm>

namespace rrpcd::rrpc {

bool outbox::push(const catalog::device_key& device, queued_message message) {
    if (full(device)) return false;
    queues_[device].push_back(std::move(message));
    return true;
}

bool outbox::acknowledge(const catalog::device_key& device, std::uint64_t message_id) {
    const auto it = queues_.find(device);
    if (it == queues_.end()) return false;
    auto& q = it->second;
    const auto m =
        std::find_if(q.begin(), q.end(), [&](const auto& x) { return x.message_id == message_id; });
    if (m == q.end()) return false;
    q.erase(m);
    if (q.empty()) queues_.erase(it);
    return true;
}

void outbox::session_ended(const catalog::device_key& device) {
    const auto it = queues_.find(device);
    if (it == queues_.end()) return;
    for (auto& m : it->second) m.sent = m.awaiting_answer = false;
}

std::size_t outbox::size(const catalog::device_key& device) const noexcept {
    const auto it = queues_.find(device);
    return it == queues_.end() ? 0 : it->second.size();
}

}  // namespace rrpcd::rrpc
