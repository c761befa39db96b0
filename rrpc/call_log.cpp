#include "rrpc/call_log.hpp"

#include <algorithm>

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

call_record* call_log::add(call_record record) {
    if (record.created == call_record::clock::time_point{})
        record.created = call_record::clock::now();
    expire(sync_, record.created);
    expire(async_, record.created);
    if (is_async(record.kind)) {
        if (async_full(record.request.size())) return nullptr;
    } else {
        while (!sync_.order.empty() &&
               (sync_.order.size() >= limits_.max_sync ||
                sync_.bytes + record.request.size() > limits_.max_sync_bytes))
            drop_oldest(sync_);
    }
    auto& kept = keep(std::move(record));
    ++started_[static_cast<std::size_t>(kept.kind)];
    if (kept.state != call_state::pending)
        ++ended_[static_cast<std::size_t>(kept.kind)][static_cast<std::size_t>(kept.state)];
    if (on_change) on_change(kept);
    return &kept;
}

call_record& call_log::restore(call_record record) {
    return keep(std::move(record));
}

bool call_log::async_full(std::size_t bytes) noexcept {
    expire(async_, call_record::clock::now());
    return async_.order.size() >= limits_.max_async ||
           async_.bytes + bytes > limits_.max_async_bytes;
}

call_record& call_log::keep(call_record record) {
    auto& b = budget_of(record.kind);
    b.bytes += record.request.size() + record.reply.size();
    const auto id = record.message_id;
    b.order.push_back(id);
    return records_.insert_or_assign(id, std::move(record)).first->second;
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
    ++ended_[static_cast<std::size_t>(r->kind)][static_cast<std::size_t>(state)];
    r->reply_topic = std::move(reply_topic);
    budget_of(r->kind).bytes += reply.size();
    r->reply = std::move(reply);
    r->finished = call_record::clock::now();
    if (on_change) on_change(*r);
    return r;
}

std::vector<const call_record*> call_log::answered_after(std::uint64_t message_id) const {
    std::vector<const call_record*> out;
    for (const auto id : async_.order)
        if (const auto it = records_.find(id);
            it != records_.end() && it->second.state == call_state::replied)
            out.push_back(&it->second);
    std::ranges::stable_sort(out, {}, &call_record::finished);
    const auto last = std::ranges::find(out, message_id, &call_record::message_id);
    if (last != out.end()) out.erase(out.begin(), last + 1);
    return out;
}

void call_log::published(std::uint64_t message_id) {
    if (auto* r = find(message_id);
        r != nullptr && r->published == call_record::clock::time_point{})
        r->published = call_record::clock::now();
}

std::vector<const call_record*> call_log::recent(
    std::size_t limit, const std::function<bool(const call_record&)>& keep,
    std::size_t scan) const {
    // Both budgets hold their records by creation: merged from their newest ends.
    std::vector<const call_record*> out;
    auto s = sync_.order.rbegin(), a = async_.order.rbegin();
    const auto at = [&](auto it, const budget& b) -> const call_record* {
        if (it == b.order.rend()) return nullptr;
        const auto found = records_.find(*it);
        return found == records_.end() ? nullptr : &found->second;
    };
    for (std::size_t seen = 0; out.size() < limit && seen < scan; ++seen) {
        if (s == sync_.order.rend() && a == async_.order.rend()) break;
        const auto* rs = at(s, sync_);
        const auto* ra = at(a, async_);
        const bool take_sync =
            a == async_.order.rend() || (s != sync_.order.rend() && rs != nullptr &&
                                         (ra == nullptr || rs->created >= ra->created));
        const auto* r = take_sync ? rs : ra;
        if (take_sync)
            ++s;
        else
            ++a;
        if (r != nullptr && keep(*r)) out.push_back(r);
    }
    return out;
}

void call_log::drop_oldest(budget& b) {
    if (const auto it = records_.find(b.order.front()); it != records_.end()) {
        b.bytes -= it->second.request.size() + it->second.reply.size();
        records_.erase(it);
    }
    b.order.pop_front();
}

void call_log::expire(budget& b, call_record::clock::time_point now) {
    while (!b.order.empty()) {
        const auto it = records_.find(b.order.front());
        if (it != records_.end() && now - it->second.created < retention_) break;
        drop_oldest(b);
    }
}

}  // namespace rrpcd::rrpc
