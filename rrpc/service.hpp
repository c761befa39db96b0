#pragma once

#include "catalog/device_key.hpp"
#include "rrpc/call_log.hpp"
#include "rrpc/message_id.hpp"
#include "rrpc/pending_table.hpp"
#include "rrpc/presence.hpp"
#include "rrpc/rrpc_code.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace rrpcd::rrpc {

/// What the RRPC core needs from the MQTT side; the server's device registry implements it.
class device_gateway {
public:
    virtual ~device_gateway() = default;
    /// The device's link right now.
    virtual presence presence_of(const catalog::device_key& device) const = 0;
    /// Publishes at QoS 0 to the device's live session. When no subscription matches `topic`
    /// yet (the moments after CONNACK, a takeover, a _ss=1 login), the message waits up to
    /// `hold` for one and goes when it comes. False when the device has no session, or nothing
    /// matches and `hold` is zero (the message then goes nowhere, as on any broker).
    /// A held message carries `message_id` (0: none), so that its call can take it back.
    virtual bool publish(const catalog::device_key& device, std::string_view topic,
                         std::string_view payload, std::chrono::milliseconds hold,
                         std::uint64_t message_id = 0) = 0;
    /// The call `message_id` ended: a message of it still held for a subscription goes.
    virtual void drop_held(const catalog::device_key& device, std::uint64_t message_id) {
        (void)device;
        (void)message_id;
    }
    /// True when the device's live session logged in with `ext=1` (the Link SDKs): its sync
    /// thing services go on `/ext/rrpc/{MessageId}/sys/{pk}/{dn}/thing/service/{Identifier}`.
    virtual bool ext_rrpc(const catalog::device_key& device) const = 0;
    /// Queues a QoS 1 message: sent when the device is online and subscribed, kept until its
    /// PUBACK, sent again on its next session otherwise. False, with nothing queued, when the
    /// device's queue is full (the caller refuses the message).
    /// `call`: the message is an async call's request, whose answer shows the device has it
    /// (kept until then even when a QoS 0 subscription takes it without a PUBACK).
    virtual bool publish_reliably(const catalog::device_key& device, std::uint64_t message_id,
                                  std::string topic, std::string payload, bool call = false) = 0;
    /// The device answered the call `message_id`: its request, if still queued, is done.
    virtual void answered(const catalog::device_key& device, std::uint64_t message_id) {
        (void)device;
        (void)message_id;
    }
    /// Takes back a queued message whose caller was answered an error (the store could not
    /// keep it): it is not sent again, and its row goes if it was written after all.
    virtual void withdraw(const catalog::device_key& device, std::uint64_t message_id) = 0;
};

/// How long an async QoS 0 call to an online device waits for a matching subscription (the
/// platform's longest sync Timeout).
inline constexpr std::chrono::milliseconds subscription_grace{8000};

/// One RRpc call as the API hands it over: already validated.
struct call_request {
    catalog::device_key device;
    std::string payload;  ///< raw bytes for the device
    std::string topic;    ///< custom RRPC topic (`/pk/dn/user/get`), empty for the system topic
    std::chrono::milliseconds timeout{};
    call_kind kind = call_kind::rrpc;  ///< for the call log
    std::string identifier{};          ///< thing service, with kind thing_sync
    std::uint64_t message_id =
        0;  ///< 0: a fresh one (a thing call puts its id in the payload first)
};

struct call_result {
    rrpc_code code = rrpc_code::unknown;
    std::uint64_t message_id = 0;
    std::string payload;  ///< the device's reply bytes, with SUCCESS
};

/// Counters of the RRPC core, for logs and benchmarks.
struct service_stats {
    std::uint64_t calls = 0;
    std::uint64_t success = 0;
    std::uint64_t timeout = 0;
    std::uint64_t offline = 0;
    std::uint64_t halfconn = 0;
    std::uint64_t dropped_replies = 0;  ///< late, duplicate or foreign
};

/// Call semantics of RRPC: an id, a pending entry registered before the request is published,
/// and exactly one outcome: the device's reply, the timer, or the device's session ending.
/// No thread per call and no polling: the waiter sleeps on its own timer. io thread only.
class service {
public:
    /// Calls are recorded in `calls` (pending, then their outcome) for lookup by MessageId.
    service(device_gateway& gateway, message_id_generator& ids, call_log& calls,
            std::shared_ptr<spdlog::logger> log);

    /// A fresh MessageId (the async calls share the id space).
    std::uint64_t next_id();

    /// Makes one call and waits for its outcome (at most `request.timeout`).
    boost::asio::awaitable<call_result> call(call_request request);

    /// A publish from `from` on an RRPC reply topic naming `message_id` (classify_upstream):
    /// answers that pending call, or is dropped and counted (late, duplicate or foreign).
    void on_reply(const catalog::device_key& from, std::string_view topic, std::uint64_t message_id,
                  std::string payload);

    /// The device's live session ended (not a takeover): its pending calls end now, as
    /// HALFCONN or OFFLINE by the platform's rules applied to `after`.
    void on_session_end(const catalog::device_key& device, const presence& after);

    /// Ends every pending call now with UNKNOWN (shutdown past its grace period).
    std::size_t cancel_all() { return table_.resolve_all(rrpc_code::unknown); }

    const service_stats& stats() const noexcept { return stats_; }
    std::size_t pending() const noexcept { return table_.size(); }
    std::size_t pending_for(const catalog::device_key& device) const noexcept {
        return table_.pending_for(device);
    }

private:
    void count(rrpc_code code) noexcept;
    /// Counts the outcome and ends the call's record.
    void finish(const call_result& result, std::string reply_topic);

    device_gateway& gateway_;
    message_id_generator& ids_;
    call_log& calls_;
    std::shared_ptr<spdlog::logger> log_;
    pending_table table_;
    service_stats stats_;
};

}  // namespace rrpcd::rrpc
