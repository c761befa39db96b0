#pragma once

#include "catalog/device_key.hpp"
#include "rrpc/async_calls.hpp"
#include "rrpc/presence.hpp"
#include "rrpc/service.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rrpcd::rrpc {

/// A device's link as its owner sees it now.
struct device_link {
    presence link;
    bool ext_rrpc = false;  ///< its live session said ext=1 (sync thing services' topic)
};

/// One queued QoS 1 message as the console lists it (no payload: its size).
struct queued_summary {
    std::uint64_t message_id = 0;
    std::string topic;
    std::size_t bytes = 0;
    bool sent = false;
};

/// What a device's owner says of it for the console's page: its session (with subscriptions)
/// and the first queued messages, and how many are queued.
struct device_view {
    device_link link;
    std::optional<session_info> session;
    std::vector<queued_summary> queued;
    std::size_t queued_total = 0;
};

/// What the device side holds, summed over its owners (the console's overview, the metrics).
struct plane_figures {
    std::size_t online = 0;
    std::size_t pending = 0;
    std::uint64_t presence_changes = 0;
};

/// The one way the API, the console and the fleet reach devices: typed messages to a device's
/// owner (its device plane: one per core, later one per node), each awaited. Each message is
/// whole in itself (values, no references into the caller), so that its hop may be a post to
/// another thread or a round trip through Redis, and may fail: a message that cannot reach the
/// owner ends as the owner being unreachable says (OFFLINE, not sent, unknown).
class router {
public:
    virtual ~router() = default;

    /// A fresh MessageId, issued by the caller's own plane (its bits name that plane).
    virtual std::uint64_t next_id() = 0;

    /// The device's link now.
    virtual boost::asio::awaitable<device_link> link(catalog::device_key device) = 0;
    /// The links of `devices`, in their order (one message per owner, not per device).
    virtual boost::asio::awaitable<std::vector<presence>> links(
        std::vector<catalog::device_key> devices) = 0;
    /// The device's session, its queue's first `max_listed` messages and its link.
    virtual boost::asio::awaitable<device_view> view(catalog::device_key device,
                                                     std::size_t max_listed) = 0;

    /// A sync call (RRpc, a sync thing service): made on the device's owner, its outcome
    /// awaited (at most the request's timeout). `max_pending`: more calls already waiting for
    /// the device end it at once with `too_many` set.
    struct call_outcome {
        call_result result;
        bool too_many = false;
    };
    virtual boost::asio::awaitable<call_outcome> call(call_request request,
                                                      std::size_t max_pending) = 0;
    /// An async call (AsyncRRpc, an async thing service), sent by the device's owner.
    virtual boost::asio::awaitable<async_calls::sent> send(std::uint64_t message_id,
                                                           async_request request) = 0;
    /// Pub: QoS 0 (`reliably` false: true when a session took it) or QoS 1 (kept until the
    /// device has it: false when its queue is full).
    virtual boost::asio::awaitable<bool> publish(catalog::device_key device, std::string topic,
                                                 std::string payload, bool reliably,
                                                 std::uint64_t message_id) = 0;
    /// Takes back a queued message whose caller was answered an error.
    virtual boost::asio::awaitable<void> withdraw(catalog::device_key device,
                                                  std::uint64_t message_id) = 0;
    /// Closes the device's live session (deleted or disabled); `forget`: its queue and kept
    /// session go too.
    virtual boost::asio::awaitable<void> close(catalog::device_key device, bool forget) = 0;

    /// Every owner's figures, summed.
    virtual boost::asio::awaitable<plane_figures> figures() = 0;
};

}  // namespace rrpcd::rrpc
