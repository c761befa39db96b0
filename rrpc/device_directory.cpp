#include "rrpc/device_directory.hpp"

namespace rrpcd::rrpc {

void device_directory::add(device_record record) {
    auto key = record.key;
    devices_.insert_or_assign(std::move(key), std::move(record));
}

const device_record* device_directory::find(const device_key& key) const noexcept {
    const auto it = devices_.find(key);
    return it == devices_.end() ? nullptr : &it->second;
}

}  // namespace rrpcd::rrpc
