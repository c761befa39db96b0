#pragma once

#include "rrpc/device_key.hpp"
#include "rrpc/presence.hpp"
#include "rrpc/service.hpp"

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
    /// Makes `session` the device's live session. Returns the session it takes over from (the
    /// caller closes it), or nullptr.
    mqtt_session* attach(const rrpc::device_key& device, mqtt_session& session);

    /// `session` ended as `how`. Returns true when it was the device's live session; false when
    /// another session had already taken over (then nothing changes).
    bool detach(const rrpc::device_key& device, const mqtt_session& session,
                rrpc::presence::state how);

    rrpc::presence presence_of(const rrpc::device_key& device) const override;
    bool publish(const rrpc::device_key& device, std::string_view topic,
                 std::string_view payload) override;

    /// Devices with a live session.
    std::size_t online() const noexcept { return online_; }

private:
    struct entry {
        mqtt_session* session = nullptr;
        rrpc::presence last;  ///< valid when session is null
    };
    std::unordered_map<rrpc::device_key, entry, rrpc::device_key_hash> devices_;
    std::size_t online_ = 0;
};

}  // namespace rrpcd::server
