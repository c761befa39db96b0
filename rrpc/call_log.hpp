#pragma once

#include "catalog/device_key.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rrpcd::rrpc {

/// Which API made a call.
enum class call_kind : std::uint8_t { rrpc, async_rrpc, thing_sync, thing_async };
/// Where a call stands: waiting, answered, or ended without an answer.
enum class call_state : std::uint8_t { pending, replied, timeout, offline, halfconn, unknown };

std::string_view to_string(call_kind k) noexcept;
std::string_view to_string(call_state s) noexcept;

/// One call's outcome, kept for lookup by MessageId.
struct call_record {
    using clock = std::chrono::system_clock;
    std::uint64_t message_id = 0;
    call_kind kind = call_kind::rrpc;
    catalog::device_key device{};
    std::string topic{};       ///< where the request went
    std::string request{};     ///< its bytes
    std::string identifier{};  ///< thing service, if any
    call_state state = call_state::pending;
    std::string reply_topic{};
    std::string reply{};  ///< the device's bytes
    clock::time_point created{};
    clock::time_point finished{};
};

/// Call outcomes by MessageId for `retention`, at most `max_records` holding at most
/// `max_bytes` of payloads (oldest dropped first). io thread only.
class call_log {
public:
    call_log(std::chrono::seconds retention, std::size_t max_records,
             std::size_t max_bytes = 64 << 20)
        : retention_(retention), max_records_(max_records), max_bytes_(max_bytes) {}

    /// Records a new call (state pending unless set) and forgets expired ones.
    call_record& add(call_record record);
    call_record* find(std::uint64_t message_id) noexcept;
    /// Ends a pending call; returns the record, or nullptr when it is unknown or already ended.
    call_record* finish(std::uint64_t message_id, call_state state, std::string reply_topic = {},
                        std::string reply = {});
    std::size_t size() const noexcept { return records_.size(); }
    std::size_t bytes() const noexcept { return bytes_; }

    /// Told of every record added and every one finished (the store keeps some).
    std::function<void(const call_record&)> on_change;

private:
    void expire(call_record::clock::time_point now);
    void drop_oldest();

    std::chrono::seconds retention_;
    std::size_t max_records_;
    std::size_t max_bytes_;
    std::size_t bytes_ = 0;
    std::unordered_map<std::uint64_t, call_record> records_;
    std::deque<std::uint64_t> order_;  ///< by creation
};

}  // namespace rrpcd::rrpc
