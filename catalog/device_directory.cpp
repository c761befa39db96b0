#include "catalog/device_directory.hpp"

#include <algorithm>

#include "kit/crypto.hpp"

namespace rrpcd::catalog {

std::string device_directory::iot_id_of(const device_key& key) {
    return kit::to_hex(kit::sha256(key.product_key + "/" + key.device_name)).substr(0, 20);
}

const device_record& device_directory::add(device_record record) {
    if (record.iot_id.empty()) record.iot_id = iot_id_of(record.key);
    by_iot_id_.insert_or_assign(record.iot_id, record.key);
    auto key = record.key;
    const auto& kept = devices_.insert_or_assign(std::move(key), std::move(record)).first->second;
    ordered_.insert(&kept);
    return kept;
}

const device_record* device_directory::find(const device_key& key) const noexcept {
    const auto it = devices_.find(key);
    return it == devices_.end() ? nullptr : &it->second;
}

device_record* device_directory::find(const device_key& key) noexcept {
    const auto it = devices_.find(key);
    return it == devices_.end() ? nullptr : &it->second;
}

bool device_directory::remove(const device_key& key) {
    const auto it = devices_.find(key);
    if (it == devices_.end()) return false;
    by_iot_id_.erase(it->second.iot_id);
    ordered_.erase(&it->second);
    devices_.erase(it);
    return true;
}

std::vector<const device_record*> device_directory::of_product(std::string_view product_key) const {
    std::vector<const device_record*> out;
    for (auto it = ordered_.lower_bound(device_key{std::string{product_key}, {}});
         it != ordered_.end() && (*it)->key.product_key == product_key; ++it)
        out.push_back(*it);
    return out;
}

std::vector<std::string> device_directory::products() const {
    std::vector<std::string> out;
    for (const auto& [key, p] : products_) out.push_back(key);
    // A product known only from its devices' keys: one look per product, not per device.
    for (auto it = ordered_.begin(); it != ordered_.end();) {
        const auto& pk = (*it)->key.product_key;
        if (!products_.contains(pk)) out.push_back(pk);
        it = ordered_.lower_bound(device_key{pk + '\0', {}});  // the next product's first
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

void device_directory::add_product(product_record product) {
    auto key = product.product_key;
    products_.insert_or_assign(std::move(key), std::move(product));
}

const product_record* device_directory::find_product(std::string_view product_key) const noexcept {
    const auto it = products_.find(product_key);
    return it == products_.end() ? nullptr : &it->second;
}

const device_record* device_directory::find_by_iot_id(std::string_view iot_id) const noexcept {
    const auto it = by_iot_id_.find(std::string{iot_id});
    return it == by_iot_id_.end() ? nullptr : find(it->second);
}

}  // namespace rrpcd::catalog
