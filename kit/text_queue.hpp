#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

namespace rrpcd::kit {

/// A FIFO of immutable texts shared with other queues (one rendering of an event serves every
/// subscriber that holds it), bounded by count and by bytes. A push past either bound drops the
/// oldest entries until the new one fits (the newest is always kept); push() says how many went,
/// so the owner counts them and tells its reader. Bytes are the texts' sizes, counted once per
/// queue that holds them. Single-threaded.
class text_queue {
public:
    using text = std::shared_ptr<const std::string>;
    struct entry {
        std::uint64_t id = 0;
        text body;
        std::int64_t queued_ms = 0;  ///< when it was queued (Unix ms), for who needs it
    };

    text_queue(std::size_t max_count, std::size_t max_bytes) noexcept
        : max_count_(max_count), max_bytes_(max_bytes) {}

    /// Appends; returns how many of the oldest were dropped to make room (each one handed to
    /// `on_drop` first, when given).
    template <class OnDrop = void (*)(const entry&)>
    std::size_t push(
        entry e, OnDrop on_drop = [](const entry&) {}) {
        const std::size_t size = e.body ? e.body->size() : 0;
        std::size_t dropped = 0;
        while (!entries_.empty() &&
               (entries_.size() + 1 > max_count_ || bytes_ + size > max_bytes_)) {
            on_drop(pop());
            ++dropped;
        }
        bytes_ += size;
        entries_.push_back(std::move(e));
        return dropped;
    }

    /// Removes and returns the oldest entry. Not empty().
    entry pop() {
        entry e = std::move(entries_.front());
        entries_.pop_front();
        bytes_ -= e.body ? e.body->size() : 0;
        return e;
    }

    bool empty() const noexcept { return entries_.empty(); }
    std::size_t size() const noexcept { return entries_.size(); }
    std::size_t bytes() const noexcept { return bytes_; }

private:
    std::size_t max_count_;
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::deque<entry> entries_;
};

}  // namespace rrpcd::kit
