#pragma once

#include "catalog/device_key.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
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

/// The registered products and devices, kept in memory (the store persists them). Records
/// never move while registered: a pointer from find() stays valid until that record is
/// removed. io thread only.
class device_directory {
public:
    /// Adds or replaces a device; returns the record as kept.
    const device_record& add(device_record record);
    /// Removes a device; false when it was not registered.
    bool remove(const device_key& key);
    /// The device, or nullptr when it is not registered.
    const device_record* find(const device_key& key) const noexcept;
    device_record* find(const device_key& key) noexcept;
    const device_record* find_by_iot_id(std::string_view iot_id) const noexcept;
    /// The devices of a product, by name.
    std::vector<const device_record*> of_product(std::string_view product_key) const;

    /// Every device in the order of its key (ProductKey, then DeviceName): an index, so that a
    /// page of a long list costs its page, not a pass over every device.
    struct by_key {
        using is_transparent = void;
        bool operator()(const device_record* a, const device_record* b) const noexcept {
            return less(a->key, b->key);
        }
        bool operator()(const device_record* a, const device_key& b) const noexcept {
            return less(a->key, b);
        }
        bool operator()(const device_key& a, const device_record* b) const noexcept {
            return less(a, b->key);
        }
        static bool less(const device_key& a, const device_key& b) noexcept {
            return a.product_key != b.product_key ? a.product_key < b.product_key
                                                  : a.device_name < b.device_name;
        }
    };
    using ordered_index = std::set<const device_record*, by_key>;
    const ordered_index& ordered() const noexcept { return ordered_; }
    /// The IotId a device gets: 20 hex digits of SHA-256 of `pk/dn`, stable across restarts.
    static std::string iot_id_of(const device_key& key);
    std::size_t size() const noexcept { return devices_.size(); }

    /// The ProductKeys of every device (products without devices included).
    std::vector<std::string> products() const;
    void add_product(product_record product);
    const product_record* find_product(std::string_view product_key) const noexcept;

private:
    std::unordered_map<device_key, device_record, device_key_hash> devices_;
    ordered_index ordered_;  ///< the records of devices_ (which never move), by key
    std::unordered_map<std::string, device_key> by_iot_id_;
    std::map<std::string, product_record, std::less<>> products_;
};

}  // namespace rrpcd::catalog
