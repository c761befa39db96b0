#include "catalog/property_values.hpp"

#include <boost/json.hpp>

#include <charconv>

namespace rrpcd::catalog {

namespace json = boost::json;

namespace {

/// A value as JSON text; a double in its shortest form (23.5, where Boost.JSON writes 2.35E1).
std::string text_of(const json::value& v) {
    if (!v.is_double()) return json::serialize(v);
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
    return ec == std::errc{} ? std::string(buf, end) : json::serialize(v);
}

}  // namespace

std::size_t property_values::posted(const device_key& device, const json::object& params,
                                    std::int64_t now_ms) {
    // Serialised outside the lock.
    std::vector<std::pair<std::string_view, std::pair<std::string, std::int64_t>>> posted;
    posted.reserve(params.size());
    for (const auto& [id, v] : params) {
        const auto* o = v.if_object();
        const auto* value = o != nullptr ? o->if_contains("value") : nullptr;
        const auto* time = o != nullptr ? o->if_contains("time") : nullptr;
        std::int64_t at = now_ms;
        if (time != nullptr && (time->is_int64() || time->is_uint64()))
            at = time->to_number<std::int64_t>();
        posted.push_back({id, {text_of(value != nullptr ? *value : v), at}});
    }
    std::vector<property_value> saved;
    std::size_t not_kept = 0;
    {
        const std::lock_guard lock{mutex_};
        auto& kept = devices_[device];
        for (auto& [id, entry] : posted) {
            const auto cost = [&](std::string_view name, const std::string& text) {
                return name.size() + text.size();
            };
            auto it = kept.find(id);
            const auto before = it != kept.end() ? cost(id, it->second.first) : 0;
            const auto after = cost(id, entry.first);
            if (entry.first.size() > limits_.value_bytes ||
                (it == kept.end() && kept.size() >= limits_.per_device) ||
                bytes_ - before + after > limits_.total_bytes) {
                ++not_kept;
                continue;
            }
            bytes_ = bytes_ - before + after;
            if (on_kept) saved.push_back({std::string{id}, entry.first, entry.second});
            if (it == kept.end())
                kept.emplace(std::string{id}, std::move(entry));
            else
                it->second = std::move(entry);
        }
        if (kept.empty()) devices_.erase(device);
        refused_ += not_kept;
    }
    if (on_kept && !saved.empty()) on_kept(device, saved);
    return not_kept;
}

void property_values::restore(const device_key& device, property_value v) {
    const std::lock_guard lock{mutex_};
    auto& kept = devices_[device];
    const auto cost = v.identifier.size() + v.value.size();
    if (v.value.size() > limits_.value_bytes || kept.size() >= limits_.per_device ||
        bytes_ + cost > limits_.total_bytes || kept.contains(v.identifier)) {
        if (kept.empty()) devices_.erase(device);
        return;
    }
    bytes_ += cost;
    kept.emplace(std::move(v.identifier), std::pair{std::move(v.value), v.time_ms});
}

std::vector<property_value> property_values::of(const device_key& device) const {
    const std::lock_guard lock{mutex_};
    std::vector<property_value> out;
    if (const auto it = devices_.find(device); it != devices_.end())
        for (const auto& [id, entry] : it->second) out.push_back({id, entry.first, entry.second});
    return out;
}

void property_values::forget(const device_key& device) {
    const std::lock_guard lock{mutex_};
    const auto it = devices_.find(device);
    if (it == devices_.end()) return;
    for (const auto& [id, entry] : it->second) bytes_ -= id.size() + entry.first.size();
    devices_.erase(it);
}

std::size_t property_values::bytes() const {
    const std::lock_guard lock{mutex_};
    return bytes_;
}

std::uint64_t property_values::refused() const {
    const std::lock_guard lock{mutex_};
    return refused_;
}

}  // namespace rrpcd::catalog
