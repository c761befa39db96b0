#include "catalog/device_directory.hpp"

#include <algorithm>
#include <iterator>
#include <limits>
#include <mutex>

#include "kit/crypto.hpp"

namespace rrpcd::catalog {

std::string device_directory::iot_id_of(const device_key& key) {
    return kit::to_hex(kit::sha256(key.product_key + "/" + key.device_name)).substr(0, 20);
}

device_ref device_directory::add(device_record record) {
    if (record.iot_id.empty()) record.iot_id = iot_id_of(record.key);
    auto kept = std::make_shared<const device_record>(std::move(record));
    const std::unique_lock lock{mutex_};
    by_iot_id_.insert_or_assign(kept->iot_id, kept->key);
    devices_.insert_or_assign(kept->key, kept);
    ordered_.insert_or_assign(kept->key, kept);
    return kept;
}

device_ref device_directory::update(const device_key& key,
                                    const std::function<bool(device_record&)>& change) {
    const std::unique_lock lock{mutex_};
    const auto it = devices_.find(key);
    if (it == devices_.end()) return nullptr;
    auto copy = *it->second;
    if (!change(copy)) return nullptr;
    auto kept = std::make_shared<const device_record>(std::move(copy));
    it->second = kept;
    ordered_.insert_or_assign(key, kept);
    return kept;
}

device_ref device_directory::find_locked(const device_key& key) const {
    const auto it = devices_.find(key);
    return it == devices_.end() ? nullptr : it->second;
}

device_ref device_directory::find(const device_key& key) const {
    const std::shared_lock lock{mutex_};
    return find_locked(key);
}

bool device_directory::remove(const device_key& key) {
    const std::unique_lock lock{mutex_};
    const auto it = devices_.find(key);
    if (it == devices_.end()) return false;
    by_iot_id_.erase(it->second->iot_id);
    ordered_.erase(key);
    devices_.erase(it);
    return true;
}

std::vector<device_ref> device_directory::of_product(std::string_view product_key) const {
    return range(product_key, {}, {}, std::numeric_limits<std::size_t>::max());
}

std::vector<device_ref> device_directory::range(std::string_view product_key,
                                                std::string_view prefix, const device_key& after,
                                                std::size_t max) const {
    const std::shared_lock lock{mutex_};
    std::vector<device_ref> out;
    auto it = ordered_.lower_bound(device_key{std::string{product_key}, std::string{prefix}});
    if (after.product_key == product_key) {
        const auto past = ordered_.upper_bound(after);
        if (it != ordered_.end() && (past == ordered_.end() || less(it->first, past->first)))
            it = past;  // the page goes on after the cursor
    }
    for (; out.size() < max && it != ordered_.end() && it->first.product_key == product_key &&
           it->first.device_name.starts_with(prefix);
         ++it)
        out.push_back(it->second);
    return out;
}

std::size_t device_directory::count_of(std::string_view product_key) const {
    const std::shared_lock lock{mutex_};
    const auto from = ordered_.lower_bound(device_key{std::string{product_key}, {}});
    const auto to = ordered_.lower_bound(device_key{std::string{product_key} + '\0', {}});
    return static_cast<std::size_t>(std::distance(from, to));
}

std::size_t device_directory::size() const {
    const std::shared_lock lock{mutex_};
    return devices_.size();
}

std::vector<std::string> device_directory::products() const {
    const std::shared_lock lock{mutex_};
    std::vector<std::string> out;
    for (const auto& [key, p] : products_) out.push_back(key);
    // A product known only from its devices' keys: one look per product, not per device.
    for (auto it = ordered_.begin(); it != ordered_.end();) {
        const auto& pk = it->first.product_key;
        if (!products_.contains(pk)) out.push_back(pk);
        it = ordered_.lower_bound(device_key{pk + '\0', {}});  // the next product's first
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

void device_directory::add_product(product_record product) {
    auto kept = std::make_shared<const product_record>(std::move(product));
    const std::unique_lock lock{mutex_};
    products_.insert_or_assign(kept->product_key, std::move(kept));
}

product_ref device_directory::find_product(std::string_view product_key) const {
    const std::shared_lock lock{mutex_};
    const auto it = products_.find(product_key);
    return it == products_.end() ? nullptr : it->second;
}

device_ref device_directory::find_by_iot_id(std::string_view iot_id) const {
    const std::shared_lock lock{mutex_};
    const auto it = by_iot_id_.find(std::string{iot_id});
    return it == by_iot_id_.end() ? nullptr : find_locked(it->second);
}

}  // namespace rrpcd::catalog
