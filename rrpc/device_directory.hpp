#pragma once

#include "rrpc/device_key.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rrpcd::rrpc {

/// What the platform knows of one registered device.
struct device_record {
    device_key key;
    std::string secret;  ///< DeviceSecret; never log it
    std::string iot_id;  ///< stable id of the device (filled by add() when empty)
};

/// The registered devices (from the configuration for now). io thread only.
class device_directory {
public:
    /// Adds or replaces a device.
    void add(device_record record);
    /// The device, or nullptr when it is not registered.
    const device_record* find(const device_key& key) const noexcept;
    const device_record* find_by_iot_id(std::string_view iot_id) const noexcept;
    /// The IotId a device gets: 20 hex digits of SHA-256 of `pk/dn`, stable across restarts.
    static std::string iot_id_of(const device_key& key);
    std::size_t size() const noexcept { return devices_.size(); }

private:
    std::unordered_map<device_key, device_record, device_key_hash> devices_;
    std::unordered_map<std::string, device_key> by_iot_id_;
};

}  // namespace rrpcd::rrpc
