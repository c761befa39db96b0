#include "rrpc/call_log.hpp"

namespace rrpcd::rrpc {

std::string_view to_string(call_kind k) noexcept {
    switch (k) {
        case call_kind::rrpc: return "RRpc";
        case call_kind::async_rrpc: return "AsyncRRpc";
        case call_kind::thing_sync: return "InvokeThingService/sync";
        case call_kind::thing_async: return "InvokeThingService/async";
    }
    return "?";
}

std::string_view to_string(call_state s) noexcept {
    switch (s) {
        case call_state::pending: return "PENDING";
        case call_state::replied: return "REPLIED";
        case call_state::timeout: return "TIMEOUT";
        case call_state::offline: return "OFFLINE";
        case call_state::halfconn: return "HALFCONN";
        case call_state::unknown: break;
    }
    return "UNKNOWN";
}

call_record& call_log::add(call_record record) {
    if (record.created == call_record::clock::time_point{})
        record.created = call_record::clock::now();
    expire(record.created);
    while (!order_.empty() &&
           (records_.size() >= max_records_ || bytes_ + record.request.size() > max_bytes_))
        drop_oldest();
    bytes_ += record.request.size();
    const auto id = record.message_id;
    order_.push_back(id);
    auto& kept = records_.insert_or_assign(id, std::move(record)).first->second;
    if (on_change) on_change(kept);
    return kept;
}

call_record* call_log::find(std::uint64_t message_id) noexcept {
    const auto it = records_.find(message_id);
    return it == records_.end() ? nullptr : &it->second;
}

call_record* call_log::finish(std::uint64_t message_id, call_state state, std::string reply_topic,
                              std::string reply) {
    auto* r = find(message_id);
    if (r == nullptr || r->state != call_state::pending) return nullptr;
    r->state = state;
    r->reply_topic = std::move(reply_topic);
    bytes_ += reply.size();
    r->reply = std::move(reply);
    r->finished = call_record::clock::now();
    if (on_change) on_change(*r);
    return r;
}

void call_log::drop_oldest() {
    if (const auto it = records_.find(order_.front()); it != records_.end()) {
        bytes_ -= it->second.request.size() + it->second.reply.size();
        records_.erase(it);
    }
    order_.pop_front();
}

void call_log::expire(call_record::clock::time_point now) {
    while (!order_.empty()) {
        const auto it = records_.find(order_.front());
        if (it != records_.end() && now - it->second.created < retention_) break;
        drop_oldest();
    }
}

}  // namespace rrpcd::rrpc
