#include "rrpc/pending_table.hpp"

namespace rrpcd::rrpc {

void pending_table::insert(std::uint64_t id, pending_call& call) {
    calls_.emplace(id, &call);
    by_device_[call.device].insert(id);
}

void pending_table::erase(std::uint64_t id) noexcept {
    const auto it = calls_.find(id);
    if (it == calls_.end()) return;
    const auto dev = by_device_.find(it->second->device);
    if (dev != by_device_.end()) {
        dev->second.erase(id);
        if (dev->second.empty()) by_device_.erase(dev);
    }
    calls_.erase(it);
}

void pending_table::resolve(pending_call& call, rrpc_code outcome) {
    call.outcome = outcome;
    call.timer.cancel();
}

pending_table::reply_status pending_table::resolve_reply(const catalog::device_key& from,
                                                         std::string_view topic, std::uint64_t id,
                                                         std::string payload) {
    const auto it = calls_.find(id);
    if (it == calls_.end()) return reply_status::unknown;
    auto& call = *it->second;
    if (call.device != from || call.reply_topic != topic) return reply_status::foreign;
    if (call.outcome) return reply_status::duplicate;
    call.reply = std::move(payload);
    resolve(call, rrpc_code::success);
    return reply_status::resolved;
}

std::size_t pending_table::resolve_device(const catalog::device_key& device, rrpc_code outcome) {
    const auto dev = by_device_.find(device);
    if (dev == by_device_.end()) return 0;
    std::size_t n = 0;
    for (const auto id : dev->second) {
        auto& call = *calls_.at(id);
        if (call.outcome) continue;
        resolve(call, outcome);
        ++n;
    }
    return n;
}

std::size_t pending_table::resolve_all(rrpc_code outcome) {
    std::size_t n = 0;
    for (auto& [id, call] : calls_) {
        if (call->outcome) continue;
        resolve(*call, outcome);
        ++n;
    }
    return n;
}

std::size_t pending_table::pending_for(const catalog::device_key& device) const noexcept {
    const auto dev = by_device_.find(device);
    return dev == by_device_.end() ? 0 : dev->second.size();
}

}  // namespace rrpcd::rrpc
