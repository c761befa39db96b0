#pragma once

#include "catalog/device_key.hpp"
#include "rrpc/async_calls.hpp"
#include "rrpc/presence.hpp"
#include "rrpc/service.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rrpcd::rrpc {

/// The device plane that owns `device` among `planes`: a hash of its key, so that its sessions,
/// calls and queue always meet on one thread (stable for the life of a process).
inline std::size_t home_plane(const catalog::device_key& device, std::size_t planes) noexcept {
    if (planes <= 1) return 0;
    const auto h = std::hash<std::string_view>{}(device.product_key) * 31 +
                   std::hash<std::string_view>{}(device.device_name);
    return h % planes;
}

/// A device's link as its owner sees it now.
struct device_link {
    presence link;
    bool ext_rrpc = false;     ///< its live session said ext=1 (sync thing services' topic)
    bool unavailable = false;  ///< cluster mode: not live here, and Redis did not say where
};

/// The one way the API and the fleet reach devices: typed messages to a device's owner (today
/// the process's one device plane; with threads, the plane of the device's shard; with a
/// cluster, another node), each awaited. Every message carries values, never references into
/// the caller, so that its hop may be a post to another thread or a round trip through Redis;
/// a hop that fails ends as the owner being unreachable would (OFFLINE, not sent).
class router {
public:
    virtual ~router() = default;

    /// A fresh MessageId from `device`'s owner (the async calls share the id space).
    virtual std::uint64_t next_id(const catalog::device_key& device) = 0;

    /// The device's link now.
    virtual boost::asio::awaitable<device_link> link(catalog::device_key device) = 0;
    /// The links of `devices`, in their order (one message per owner, not per device).
    virtual boost::asio::awaitable<std::vector<presence>> links(
        std::vector<catalog::device_key> devices) = 0;

    /// A sync call (RRpc, a sync thing service) made by the device's owner, its outcome
    /// awaited (at most the request's timeout). When `max_pending` calls already wait for the
    /// device, nothing is sent: `waiting` says how many.
    struct call_outcome {
        call_result result;
        std::size_t waiting = 0;   ///< non-zero: refused, this many calls wait already
        bool unavailable = false;  ///< the device's owner could not be asked (Redis): not sent
    };
    virtual boost::asio::awaitable<call_outcome> call(call_request request,
                                                      std::size_t max_pending) = 0;
    /// An async call (AsyncRRpc, an async thing service), sent by the device's owner.
    virtual boost::asio::awaitable<async_calls::sent> send(std::uint64_t message_id,
                                                           async_request request) = 0;
    /// How a Pub went: QoS 0 (`reliably` false) taken by a live session, or not; QoS 1 kept
    /// until the device has it, or refused (its queue is full: nothing kept); or not sent at all
    /// (cluster mode: the device's node could not be asked, or could not keep it).
    enum class published : std::uint8_t { taken, refused, unavailable };
    virtual boost::asio::awaitable<published> publish(catalog::device_key device, std::string topic,
                                                      std::string payload, bool reliably,
                                                      std::uint64_t message_id) = 0;
    /// Takes back a queued message whose caller was answered an error.
    virtual boost::asio::awaitable<void> withdraw(catalog::device_key device,
                                                  std::uint64_t message_id) = 0;
    /// Closes the device's live session (it was deleted or disabled); `forget`: its queue and
    /// kept session go too. Sent, not awaited: the login check refuses the device anyway.
    virtual void close(catalog::device_key device, bool forget) = 0;
};

}  // namespace rrpcd::rrpc
