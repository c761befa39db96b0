#pragma once

#include "catalog/device_key.hpp"

#include <boost/json/fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rrpcd::catalog {

/// A property's latest reported value: what QueryDevicePropertyStatus and the console show.
struct property_value {
    std::string identifier;
    std::string value;  ///< as JSON text (`23.5`, `"on"`, `{"a":1}`)
    std::int64_t time_ms = 0;
};

/// The latest value and time of each property of each device, from the property posts the
/// platform answered with 200. Kept in memory and, through on_kept, in the store; bounded: a device
/// keeps at most `per_device` properties, a value of at most `value_bytes` as JSON, and all
/// of them together at most `total_bytes`: past a bound a value is not kept (counted), the
/// post is still answered. Any thread: one mutex, held for map work only.
class property_values {
public:
    struct limits {
        std::size_t per_device = 512;
        std::size_t value_bytes = 4096;
        std::size_t total_bytes = std::size_t{64} << 20;
    };
    explicit property_values(limits l) : limits_(l) {}
    property_values() : property_values(limits{}) {}

    /// A property post's `params` from `device` at `now_ms`: each `"id": value` or
    /// `"id": {"value": v, "time": ms}` (the time the device gives, else `now_ms`). Returns how
    /// many were not kept (past a bound).
    std::size_t posted(const device_key& device, const boost::json::object& params,
                       std::int64_t now_ms);
    /// Start-up: a value the store kept (bounded as posted() is).
    void restore(const device_key& device, property_value v);
    /// Told (outside the lock, on the poster's thread) of the values a post changed, to keep
    /// them in the store.
    std::function<void(const device_key&, const std::vector<property_value>&)> on_kept;
    /// The device's latest values, by identifier.
    std::vector<property_value> of(const device_key& device) const;
    /// A deleted device's values go.
    void forget(const device_key& device);

    std::size_t bytes() const;
    std::uint64_t refused() const;

private:
    using values = std::map<std::string, std::pair<std::string, std::int64_t>, std::less<>>;
    limits limits_;
    mutable std::mutex mutex_;
    std::unordered_map<device_key, values, device_key_hash> devices_;
    std::size_t bytes_ = 0;
    std::uint64_t refused_ = 0;
};

}  // namespace rrpcd::catalog
