#pragma once

#include "rrpc/device_key.hpp"

#include <cstddef>
#include <string>
#include <unordered_map>

namespace rrpcd::rrpc {

/// What the platform knows of one registered device.
struct device_record {
    device_key key;
    std::string secret;  ///< DeviceSecret; never log it
};

/// The registered devices (from the configuration for now). io thread only.
class device_directory {
public:
    /// Adds or replaces a device.
    void add(device_record record);
    /// The device, or nullptr when it is not registered.
    const device_record* find(const device_key& key) const noexcept;
    std::size_t size() const noexcept { return devices_.size(); }

private:
    std::unordered_map<device_key, device_record, device_key_hash> devices_;
};

}  // namespace rrpcd::rrpc
