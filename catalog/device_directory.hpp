#pragma once

#include "catalog/device_key.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rrpcd::catalog {

/// What the platform knows of one registered device.
struct device_record {
    device_key key;
    std::string secret;  ///< DeviceSecret; never log it
    std::string iot_id;  ///< stable id of the device (filled by add() when empty)
    std::string nickname{};
    bool disabled = false;        ///< DisableThing: refused at CONNECT
    std::int64_t created_ms = 0;  ///< registered (Unix ms)
    std::int64_t active_ms = 0;   ///< first logged in; 0: never (UNACTIVE)
    bool from_config = false;     ///< seeded from the config file (not RegisterDevice)
};

/// A product (CreateProduct, or seeded from the config file).
struct product_record {
    std::string product_key;
    std::string name;
    int node_type = 0;    ///< 0 device, 1 gateway
    int data_format = 1;  ///< 0 custom (transparent), 1 Alink JSON
    std::string description{};
    std::int64_t created_ms = 0;
};

/// The whole catalog as rows (the store's load at start, the cluster's shared copy).
struct catalog_rows {
    std::vector<product_record> products;
    std::vector<device_record> devices;
};

/// A registered device as it was when it was looked up: records never change once made (a
/// change makes a new one), so a reference stays valid and unchanging on any thread.
using device_ref = std::shared_ptr<const device_record>;
using product_ref = std::shared_ptr<const product_record>;

/// The registered products and devices, kept in memory (the store persists them). Shared by
/// every thread: reads take a shared lock, changes an exclusive one, neither across I/O; what a
/// lookup returns is an immutable record of its own.
class device_directory {
public:
    /// Adds or replaces a device; returns the record as kept.
    device_ref add(device_record record);
    /// Removes a device; false when it was not registered.
    bool remove(const device_key& key);
    /// Replaces the device's record by `change(copy of it)` when it is registered and
    /// `change` returns true; returns the new record (nullptr: unchanged).
    device_ref update(const device_key& key, const std::function<bool(device_record&)>& change);
    /// The device, or nullptr when it is not registered.
    device_ref find(const device_key& key) const;
    device_ref find_by_iot_id(std::string_view iot_id) const;
    /// The devices of a product, by name.
    std::vector<device_ref> of_product(std::string_view product_key) const;
    /// At most `max` devices of product `product_key` whose names start with `prefix`, in the
    /// order of their names, after `after` (a device key; its product empty: from the first):
    /// a page of a long list costs its page, not a pass over every device.
    std::vector<device_ref> range(std::string_view product_key, std::string_view prefix,
                                  const device_key& after, std::size_t max) const;
    /// Devices in the product `product_key` (its count, without a copy of its records).
    std::size_t count_of(std::string_view product_key) const;
    /// The IotId a device gets: 20 hex digits of SHA-256 of `pk/dn`, stable across restarts.
    static std::string iot_id_of(const device_key& key);
    std::size_t size() const;

    /// The ProductKeys of every device (products without devices included).
    std::vector<std::string> products() const;
    void add_product(product_record product);
    product_ref find_product(std::string_view product_key) const;

    /// Keys in order (ProductKey, then DeviceName).
    static bool less(const device_key& a, const device_key& b) noexcept {
        return a.product_key != b.product_key ? a.product_key < b.product_key
                                              : a.device_name < b.device_name;
    }

private:
    struct by_key {
        using is_transparent = void;
        bool operator()(const device_key& a, const device_key& b) const noexcept {
            return less(a, b);
        }
    };
    device_ref find_locked(const device_key& key) const;

    mutable std::shared_mutex mutex_;
    std::unordered_map<device_key, device_ref, device_key_hash> devices_;
    std::map<device_key, device_ref, by_key> ordered_;  ///< the same records, by key
    std::unordered_map<std::string, device_key> by_iot_id_;
    std::map<std::string, product_ref, std::less<>> products_;
};

}  // namespace rrpcd::catalog
