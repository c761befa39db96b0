#pragma once

#include "catalog/device_key.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace rrpcd::rrpc {

/// A QoS 1 message accepted for a device and not yet acknowledged.
struct queued_message {
    std::uint64_t message_id = 0;
    std::string topic;
    std::string payload;
    bool sent = false;       ///< written to the current session, waiting for its PUBACK
    bool delivered = false;  ///< written to some session before: a redelivery carries DUP
    /// An async call's request: its answer shows the device has it. Written at QoS 0 (a QoS 0
    /// subscription takes no PUBACK), it stays until that answer, and is sent again on the
    /// device's next session otherwise.
    bool call = false;
    bool awaiting_answer = false;  ///< written at QoS 0 to the current session
};

/// QoS 1 messages per device, in order, until the device acknowledges them: sent when the
/// device is online and subscribed, sent again on a later session if no PUBACK came.
/// In memory; io thread only.
class outbox {
public:
    /// At most `per_device` messages wait for one device: push() refuses more; nothing
    /// accepted is ever dropped to make room.
    explicit outbox(std::size_t per_device) : per_device_(per_device) {}

    /// Queues a message; false (and nothing queued) when the device's queue is full.
    bool push(const catalog::device_key& device, queued_message message);
    /// Start-up: a message the store kept, queued whatever the cap (it was accepted).
    void restore(const catalog::device_key& device, queued_message message) {
        queues_[device].push_back(std::move(message));
    }
    bool full(const catalog::device_key& device) const noexcept {
        return size(device) >= per_device_;
    }
    /// The device's queue (created empty if needed).
    std::deque<queued_message>& queue(const catalog::device_key& device) { return queues_[device]; }
    /// The device's queue, or nullptr when nothing waits for it.
    const std::deque<queued_message>* find(const catalog::device_key& device) const {
        const auto it = queues_.find(device);
        return it == queues_.end() ? nullptr : &it->second;
    }
    /// Removes the message the device acknowledged; false when it was not queued.
    bool acknowledge(const catalog::device_key& device, std::uint64_t message_id);
    /// The session ended: what it was sent but did not acknowledge is sent again next time.
    void session_ended(const catalog::device_key& device);
    std::size_t size(const catalog::device_key& device) const noexcept;
    /// Drops the device's queue (it was deleted).
    void forget(const catalog::device_key& device) { queues_.erase(device); }
    /// The devices something waits for.
    std::vector<catalog::device_key> devices() const {
        std::vector<catalog::device_key> out;
        for (const auto& [device, q] : queues_)
            if (!q.empty()) out.push_back(device);
        return out;
    }

private:
    std::size_t per_device_;
    std::unordered_map<catalog::device_key, std::deque<queued_message>, catalog::device_key_hash>
        queues_;
};

}  // namespace rrpcd::rrpc
