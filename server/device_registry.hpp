#pragma once

#include "catalog/device_key.hpp"
#include "rrpc/outbox.hpp"
#include "rrpc/presence.hpp"
#include "rrpc/service.hpp"
#include "store/journal.hpp"

#include <chrono>
#include <cstddef>
#include <string_view>
#include <unordered_map>

namespace rrpcd::server {

class mqtt_session;

/// Which session is each device's live one, and what is known of devices that left.
/// Implements the RRPC core's view of devices. io thread only.
class device_registry final : public rrpc::device_gateway {
public:
    /// At most `outbox_per_device` QoS 1 messages wait for one device; `journal` keeps them
    /// across a restart.
    explicit device_registry(store::journal& journal, std::size_t outbox_per_device = 1000)
        : journal_(journal), outbox_(outbox_per_device) {}

    /// Start-up: a message the journal kept from before (in acceptance order).
    void restore(const catalog::device_key& device, rrpc::queued_message message);

    /// Makes `session` the device's live session. Returns the session it takes over from (the
    /// caller closes it), or nullptr.
    mqtt_session* attach(const catalog::device_key& device, mqtt_session& session);

    /// `session` ended as `how`. Returns true when it was the device's live session; false when
    /// another session had already taken over (then nothing changes).
    bool detach(const catalog::device_key& device, const mqtt_session& session,
                rrpc::presence::state how);

    rrpc::presence presence_of(const catalog::device_key& device) const override;
    bool publish(const catalog::device_key& device, std::string_view topic,
                 std::string_view payload) override;
    void publish_reliably(const catalog::device_key& device, std::uint64_t message_id,
                          std::string topic, std::string payload) override;

    /// Sends the device's queued QoS 1 messages that its live session now subscribes to.
    void flush(const catalog::device_key& device);
    /// The device acknowledged the QoS 1 message `message_id`.
    void acknowledged(const catalog::device_key& device, std::uint64_t message_id);
    /// QoS 1 messages waiting for (or in flight to) the device.
    std::size_t queued(const catalog::device_key& device) const noexcept {
        return outbox_.size(device);
    }

    /// Closes every live session (server shutdown).
    void close_all();
    /// Closes the device's live session (deleted or disabled); its queued messages stay unless
    /// `forget` (deleted).
    void disconnect(const catalog::device_key& device, bool forget);

    /// Devices with a live session.
    std::size_t online() const noexcept { return online_; }

private:
    struct entry {
        mqtt_session* session = nullptr;
        rrpc::presence last;  ///< valid when session is null
    };
    std::unordered_map<catalog::device_key, entry, catalog::device_key_hash> devices_;
    std::size_t online_ = 0;
    store::journal& journal_;
    rrpc::outbox outbox_;
};

}  // namespace rrpcd::server
