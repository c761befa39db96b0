#include "rrpc/call_log.hpp"

#include "kit/unix_ms.hpp"

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

answer_cursor cursor_of(const call_record& answered) noexcept {
    return {kit::unix_ms(answered.finished), answered.message_id};
}

bool call_log::add(call_record record) {
    if (record.created == call_record::clock::time_point{})
        record.created = call_record::clock::now();
    const std::lock_guard lock{mutex_};
    expire(record.created);
    if (waiting_async(record) && async_full_locked(record.owner, record.bytes())) return false;
    auto& kept = keep(std::move(record));
    ++started_[static_cast<std::size_t>(kept.kind)];
    if (kept.state != call_state::pending)
        ++ended_counts_[static_cast<std::size_t>(kept.kind)][static_cast<std::size_t>(kept.state)];
    changed(kept.message_id);
    if (on_change) on_change(kept);
    return true;
}

void call_log::restore(call_record record) {
    const std::lock_guard lock{mutex_};
    keep(std::move(record));
}

bool call_log::async_full(std::string_view owner, std::size_t bytes) {
    const std::lock_guard lock{mutex_};
    expire(call_record::clock::now());
    return async_full_locked(owner, bytes);
}

bool call_log::async_full_locked(std::string_view owner, std::size_t bytes) const {
    const auto it = owners_.find(std::string{owner});
    if (it == owners_.end()) return bytes > limits_.max_async_bytes;
    return it->second.count >= limits_.max_async ||
           it->second.bytes + bytes > limits_.max_async_bytes;
}

call_record& call_log::keep(call_record record) {
    if (const auto it = records_.find(record.message_id); it != records_.end()) {
        // Kept again (a restore over a record): its place in the cache goes with it.
        if (it->second.state != call_state::pending) std::erase(cache_, it->first);
        erase(it);
    }
    const auto id = record.message_id;
    auto& r = records_.emplace(id, std::move(record)).first->second;
    count_in(r);
    return r;
}

void call_log::count_in(const call_record& r) {
    if (waiting_async(r)) {
        auto& b = owners_[r.owner];
        ++b.count;
        b.bytes += r.bytes();
        ++async_waiting_;
    } else if (r.state != call_state::pending) {
        cache_.push_back(r.message_id);
        ++ended_count_;
        ended_bytes_ += r.bytes();
    }
}

void call_log::count_out(const call_record& r) {
    if (waiting_async(r)) {
        if (const auto b = owners_.find(r.owner); b != owners_.end()) {
            b->second.bytes -= std::min(b->second.bytes, r.bytes());
            if (--b->second.count == 0) owners_.erase(b);
        }
        --async_waiting_;
    } else if (r.state != call_state::pending) {
        --ended_count_;
        ended_bytes_ -= r.bytes();
    }
}

void call_log::erase(std::map<std::uint64_t, call_record>::iterator it) {
    count_out(it->second);
    records_.erase(it);  // its id in cache_, if any, is skipped when it comes to the front
}

void call_log::expire(call_record::clock::time_point now) {
    while (!records_.empty() && now - records_.begin()->second.created >= retention_)
        erase(records_.begin());
    // The cache's oldest ended calls go past its bounds (the newest ended one always stays).
    while (!cache_.empty()) {
        const auto it = records_.find(cache_.front());
        const bool gone = it == records_.end() || it->second.state == call_state::pending;
        const bool over =
            ended_count_ > limits_.max_records || ended_bytes_ > limits_.max_record_bytes;
        if (!gone && !(over && ended_count_ > 1)) break;
        if (!gone) erase(it);
        cache_.pop_front();
    }
}

const call_record* call_log::find_locked(std::uint64_t message_id) const {
    const auto it = records_.find(message_id);
    return it == records_.end() ? nullptr : &it->second;
}

std::optional<call_record> call_log::find(std::uint64_t message_id) const {
    const std::lock_guard lock{mutex_};
    if (const auto* r = find_locked(message_id)) return *r;
    return std::nullopt;
}

bool call_log::pending(std::uint64_t message_id) const {
    const std::lock_guard lock{mutex_};
    const auto* r = find_locked(message_id);
    return r != nullptr && r->state == call_state::pending;
}

std::optional<call_record> call_log::lookup(std::uint64_t message_id) {
    if (auto r = find(message_id)) return r;
    // Past the cache: the archive's own read, without this log's lock.
    if (archive != nullptr) return archive->load(message_id);
    return std::nullopt;
}

boost::asio::awaitable<std::optional<call_record>> call_log::lookup_anywhere(
    std::uint64_t message_id) {
    auto r = lookup(message_id);
    if (!r && elsewhere) r = co_await elsewhere(message_id);
    co_return r;
}

bool call_log::finish(std::uint64_t message_id, call_state state, std::string reply_topic,
                      std::string reply, const visitor& ended) {
    const std::lock_guard lock{mutex_};
    const auto it = records_.find(message_id);
    if (it == records_.end() || it->second.state != call_state::pending) return false;
    auto& r = it->second;
    // Out of its owner's budget and into the cache, as an ended call.
    count_out(r);
    r.state = state;
    r.reply_topic = std::move(reply_topic);
    r.reply = std::move(reply);
    r.finished = call_record::clock::now();
    count_in(r);
    ++ended_counts_[static_cast<std::size_t>(r.kind)][static_cast<std::size_t>(state)];
    if (answered_async(r)) last_answered_ = std::max(last_answered_, cursor_of(r));
    changed(message_id);
    if (on_change) on_change(r);
    if (ended) ended(r);
    expire(r.finished);  // the cache's bounds: the newest ended call (this one) stays
    return true;
}

void call_log::changed(std::uint64_t message_id) {
    changes_.emplace_back(++change_seq_, message_id);
    if (changes_.size() > changes_kept) changes_.pop_front();
}

call_log::changes call_log::changed_since(std::uint64_t seen, std::size_t limit,
                                          const visitor& each) const {
    const std::lock_guard lock{mutex_};
    changes out;
    out.seq = change_seq_;
    if (seen >= change_seq_) return out;
    out.truncated = changes_.empty() || changes_.front().first > seen + 1;
    for (auto it = changes_.rbegin(); it != changes_.rend() && it->first > seen; ++it) {
        if (std::ranges::find(out.ids, it->second) != out.ids.end()) continue;
        if (out.ids.size() == limit) {
            out.truncated = true;
            break;
        }
        out.ids.push_back(it->second);
    }
    if (each)
        for (const auto id : out.ids)
            if (const auto* r = find_locked(id)) each(*r);
    return out;
}

void call_log::published(std::uint64_t message_id) {
    const std::lock_guard lock{mutex_};
    if (const auto it = records_.find(message_id);
        it != records_.end() && it->second.published == call_record::clock::time_point{})
        it->second.published = call_record::clock::now();
}

void call_log::acknowledged(std::uint64_t message_id) {
    const std::lock_guard lock{mutex_};
    if (const auto it = records_.find(message_id);
        it != records_.end() && it->second.acked == call_record::clock::time_point{})
        it->second.acked = call_record::clock::now();
}

call_log::page call_log::recent(std::size_t limit,
                                const std::function<bool(const call_record&)>& keep,
                                const visitor& each, std::uint64_t before, std::size_t scan) const {
    const std::lock_guard lock{mutex_};
    page out;
    auto it = before == 0 ? records_.end() : records_.lower_bound(before);
    for (std::size_t seen = 0; it != records_.begin() && out.count < limit; ++seen) {
        if (seen == scan) {
            out.next = it->first;  // looked at enough for one request: the caller asks again
            return out;
        }
        --it;
        if (keep(it->second)) {
            each(it->second);
            ++out.count;
        }
    }
    if (it != records_.begin() && out.count == limit) out.next = it->first;
    return out;
}

std::size_t call_log::size() const {
    const std::lock_guard lock{mutex_};
    return records_.size();
}

std::size_t call_log::bytes() const {
    const std::lock_guard lock{mutex_};
    return ended_bytes_;
}

std::size_t call_log::async_waiting() const {
    const std::lock_guard lock{mutex_};
    return async_waiting_;
}

answer_cursor call_log::last_answered() const {
    const std::lock_guard lock{mutex_};
    return last_answered_;
}

std::uint64_t call_log::change_seq() const {
    const std::lock_guard lock{mutex_};
    return change_seq_;
}

call_log::kind_counts call_log::started() const {
    const std::lock_guard lock{mutex_};
    return started_;
}

call_log::state_counts call_log::ended() const {
    const std::lock_guard lock{mutex_};
    return ended_counts_;
}

std::optional<call_record> call_log::load(std::uint64_t message_id) {
    return find(message_id);
}

std::optional<answer_cursor> call_log::answered_at(std::uint64_t message_id) {
    const std::lock_guard lock{mutex_};
    const auto* r = find_locked(message_id);
    if (r == nullptr || !answered_async(*r)) return std::nullopt;
    return cursor_of(*r);
}

std::vector<call_record> call_log::answered(answer_cursor from, answer_cursor to,
                                            std::size_t rows) {
    const std::lock_guard lock{mutex_};
    std::vector<const call_record*> found;
    for (const auto id : cache_)
        if (const auto* r = find_locked(id); r != nullptr && answered_async(*r)) {
            const auto at = cursor_of(*r);
            if (from < at && at <= to) found.push_back(r);
        }
    std::ranges::sort(found, {}, [](const call_record* r) { return cursor_of(*r); });
    std::vector<call_record> out;
    for (std::size_t i = 0; i < found.size() && i < rows; ++i) out.push_back(*found[i]);
    return out;
}

call_archive::fitting call_log::newest_fitting(answer_cursor from, answer_cursor to,
                                               std::size_t max_count, std::size_t max_bytes) {
    const std::lock_guard lock{mutex_};
    std::vector<std::pair<answer_cursor, std::size_t>> found;
    for (const auto id : cache_)
        if (const auto* r = find_locked(id); r != nullptr && answered_async(*r)) {
            const auto at = cursor_of(*r);
            if (from < at && at <= to) found.emplace_back(at, r->reply.size() + event_overhead);
        }
    std::ranges::sort(found);
    fitting f{from, 0};
    std::size_t count = 0, bytes = 0;
    for (auto i = found.size(); i-- > 0;) {
        if (count + 1 > max_count || bytes + found[i].second > max_bytes) {
            f.start = found[i].first;
            f.left_out = i + 1;
            break;
        }
        ++count;
        bytes += found[i].second;
    }
    return f;
}

}  // namespace rrpcd::rrpc
