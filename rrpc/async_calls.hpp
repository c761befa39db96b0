#pragma once

#include "catalog/device_directory.hpp"
#include "catalog/device_key.hpp"
#include "rrpc/call_log.hpp"
#include "rrpc/reply_hub.hpp"
#include "rrpc/service.hpp"

#include <spdlog/logger.h>
#include <boost/json/fwd.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rrpcd::rrpc {

/// A call whose answer comes later, on its own topic: AsyncRRpc and async thing services.
struct async_request {
    call_kind kind = call_kind::async_rrpc;
    catalog::device_key device;
    std::string topic;  ///< where the request goes
    std::string payload;
    std::string identifier;  ///< thing service
    std::string alink_id;    ///< thing service: the Alink `id` its `_reply` carries
    bool reliable = false;   ///< QoS 1: kept until PUBACK, sent again on reconnect
    std::string owner{};     ///< the access key that made it (its async budget)
};

/// Sends async calls, and correlates the device's later answers: an async thing service by
/// (device, Alink id) on `/sys/{pk}/{dn}/thing/service/{identifier}_reply`; an AsyncRRpc on
/// (device, `{TopicFullName}_reply`) by its Alink id when request and answer carry one, else in
/// order. Each answer ends its call in the call log and goes
/// to the reply hub in the cloud's forwarding format. io thread only.
class async_calls {
public:
    async_calls(device_gateway& gateway, call_log& log, reply_hub& hub,
                const catalog::device_directory& devices, std::shared_ptr<spdlog::logger> logger);

    /// How send() went.
    enum class sent : std::uint8_t {
        ok,           ///< published, or queued (reliable)
        offline,      ///< a QoS 0 request found no session: the call ended OFFLINE
        queue_full,   ///< a reliable request found the device's queue full: nothing was kept
        too_many,     ///< its owner has as many async calls awaiting answers as allowed: not sent
        unavailable,  ///< cluster mode: the device's node could not take or keep it (503)
    };
    /// Publishes the request (QoS 1 through the outbox when `reliable`) and remembers the call.
    sent send(std::uint64_t message_id, async_request request);

    /// Start-up: a pending call the store kept; its answer is correlated again.
    void restore(const call_record& record);

    /// A device publish that is not an RRPC reply. Returns true when it answered an async call.
    bool on_upstream(const catalog::device_key& from, std::string_view topic,
                     std::string_view payload);

    /// Entries kept to match answers: the Alink ids and every MessageId queued per topic
    /// (answered ones included until the next sweep, which runs when this doubles).
    std::size_t waiting() const noexcept { return by_alink_id_.size() + topic_ids_; }
    /// The same, counted entry by entry (tests: the running count holds).
    std::size_t counted() const noexcept {
        std::size_t n = by_alink_id_.size();
        for (const auto& [topic, ids] : by_topic_) n += ids.size();
        return n;
    }

    /// The request of call `message_id` was written to `device`'s live session (a redelivery
    /// too): its answers without an Alink id are matched to these writes, in their order.
    void delivered(const catalog::device_key& device, std::uint64_t message_id,
                   std::string_view topic);
    /// `device`'s live session changed: the writes to the old one are no longer answered.
    void session_changed(const catalog::device_key& device) { deliveries_.erase(device); }
    /// Answers to a write whose call was answered already (a redelivered request answered
    /// twice): dropped, never given to another call.
    std::uint64_t duplicates() const noexcept { return duplicates_; }

    /// The reply event of an answered call, as the hub published it (a reply stream replays
    /// them after its Last-Event-ID).
    async_reply reply_of(const call_record& answered) const;

private:
    /// Ends the call and publishes the reply event (reply_of() its record).
    void answer(std::uint64_t message_id, const catalog::device_key& from, std::string_view topic,
                std::string_view payload);
    void sweep();
    /// An AsyncRRpc's answer is expected on `{topic}_reply`: by its Alink id when its request is
    /// Alink JSON with an `id`, else in order.
    void remember_async_rrpc(const catalog::device_key& device, std::string_view topic,
                             std::string_view payload, std::uint64_t message_id);

    device_gateway& gateway_;
    call_log& log_;
    reply_hub& hub_;
    const catalog::device_directory& devices_;
    std::shared_ptr<spdlog::logger> logger_;
    std::unordered_map<std::string, std::uint64_t> by_alink_id_;  ///< pk/dn/id -> MessageId
    std::unordered_map<std::string, std::deque<std::uint64_t>>
        by_topic_;  ///< pk/dn/topic -> MessageIds
    /// The live session's writes of AsyncRRpc requests, per reply topic, in order.
    std::unordered_map<catalog::device_key,
                       std::unordered_map<std::string, std::deque<std::uint64_t>>,
                       catalog::device_key_hash>
        deliveries_;
    /// Takes `message_id` out of the device's writes on `reply_topic` (answered another way).
    void forget_delivery(const catalog::device_key& device, const std::string& reply_topic,
                         std::uint64_t message_id);
    std::uint64_t duplicates_ = 0;
    std::size_t sweep_at_ = 1024;
    std::size_t topic_ids_ = 0;  ///< MessageIds in by_topic_'s queues
};

}  // namespace rrpcd::rrpc
