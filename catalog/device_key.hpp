#pragma once

#include <boost/container_hash/hash.hpp>

#include <cstddef>
#include <string>

namespace rrpcd::catalog {

/// A device's identity on the platform: its product and its name within the product.
struct device_key {
    std::string product_key;
    std::string device_name;

    friend bool operator==(const device_key&, const device_key&) = default;
};

/// Hash for unordered containers keyed by device.
struct device_key_hash {
    std::size_t operator()(const device_key& k) const noexcept {
        std::size_t seed = boost::hash_value(k.product_key);
        boost::hash_combine(seed, k.device_name);
        return seed;
    }
};

}  // namespace rrpcd::catalog
