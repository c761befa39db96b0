#pragma once

#include <chrono>
#include <cstdint>

namespace rrpcd::kit {

/// Milliseconds since the Unix epoch (0 for a default time_point): the stored and the cloud's
/// time form.
inline std::int64_t unix_ms(
    std::chrono::system_clock::time_point t = std::chrono::system_clock::now()) noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace rrpcd::kit
