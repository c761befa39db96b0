#pragma once

#include "uplink/event.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

namespace rrpcd::uplink {

/// The bounds of one consumer group's backlog.
struct group_limits {
    std::size_t max_bytes = 256u << 20;  ///< bodies and topics of what waits; more is refused
    std::chrono::milliseconds max_age{86'400'000};  ///< then expired (the platform keeps a day)
    /// A message delivered and neither accepted nor released this long goes to another
    /// consumer (the platform's ACK time-out is 30 s); the first may still accept it.
    std::chrono::milliseconds ack_timeout{30'000};
};

/// One consumer group's messages: each goes to one consumer of the group at a time and stays
/// until a consumer accepts (or rejects) it; released, modified, timed out, or held by a
/// consumer that left, it goes to the front again, with the same id (at least once,
/// unordered, as the platform). Bounded in bytes (refused past it) and in age (expired).
/// Pure: times are given; one thread (the uplink's strand).
class group_queue {
public:
    using message_ptr = std::shared_ptr<const event>;
    using consumer_id = std::uint64_t;

    explicit group_queue(group_limits limits) : limits_(limits) {}

    /// Queues `m` (true), or refuses it past max_bytes (false: counted). An id already queued
    /// is taken as queued (a restore after a crash may repeat one).
    bool push(message_ptr m, std::int64_t now_ms);
    /// The next message for consumer `c`, now in flight to it; nullptr when none waits.
    message_ptr take(consumer_id c, std::int64_t now_ms);

    enum class outcome : std::uint8_t { accepted, rejected, released };
    /// Consumer `c` settled message `id`: true when it is now gone from the queue (accepted or
    /// rejected: the caller forgets it in the store). A settlement from a consumer the message
    /// is no longer in flight to (timed out, given to another) ends it too when accepted.
    bool settle(consumer_id c, std::uint64_t id, outcome o);
    /// Consumer `c` left (its link or connection closed): what it held goes to the front.
    std::size_t leave(consumer_id c);
    /// Messages past max_age (expired: the ids to forget in the store), and messages in flight
    /// past ack_timeout back to the front.
    std::vector<std::uint64_t> expire(std::int64_t now_ms);

    std::size_t size() const noexcept { return messages_.size(); }
    std::size_t waiting() const noexcept { return ready_.size(); }
    std::size_t bytes() const noexcept { return bytes_; }
    struct counts {
        std::uint64_t queued = 0, delivered = 0, accepted = 0, rejected = 0, redelivered = 0,
                      refused = 0, expired = 0;
    };
    const counts& stats() const noexcept { return counts_; }
    const group_limits& limits() const noexcept { return limits_; }
    void set_limits(group_limits l) noexcept { limits_ = l; }

private:
    struct entry {
        message_ptr message;
        std::int64_t queued_ms = 0;
        consumer_id holder = 0;  ///< 0: ready
        std::int64_t sent_ms = 0;
        bool sent_before = false;
    };
    static std::size_t cost(const event& e) noexcept { return e.body.size() + e.topic.size() + 64; }
    void forget(std::unordered_map<std::uint64_t, entry>::iterator it);

    group_limits limits_;
    std::unordered_map<std::uint64_t, entry> messages_;
    std::deque<std::uint64_t> ready_;  ///< ids in the order to send; may hold ids gone since
    std::size_t bytes_ = 0;
    counts counts_;
};

}  // namespace rrpcd::uplink
