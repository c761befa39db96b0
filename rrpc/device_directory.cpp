#include "rrpc/device_directory.hpp"

#include "rrpc/crypto.hpp"

namespace rrpcd::rrpc {

std::string device_directory::iot_id_of(const device_key& key) {
    return to_hex(sha256(key.product_key + "/" + key.device_name)).substr(0, 20);
}

void device_directory::add(device_record record) {
    if (record.iot_id.empty()) record.iot_id = iot_id_of(record.key);
    by_iot_id_.insert_or_assign(record.iot_id, record.key);
    auto key = record.key;
    devices_.insert_or_assign(std::move(key), std::move(record));
}

const device_record* device_directory::find(const device_key& key) const noexcept {
    const auto it = devices_.find(key);
    return it == devices_.end() ? nullptr : &it->second;
}

const device_record* device_directory::find_by_iot_id(std::string_view iot_id) const noexcept {
    const auto it = by_iot_id_.find(std::string{iot_id});
    return it == by_iot_id_.end() ? nullptr : find(it->second);
}

}  // namespace rrpcd::rrpc
