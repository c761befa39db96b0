#pragma once

#include <cstdint>
#include <string_view>

namespace rrpcd::rrpc {

/// How an RRPC call ended, as the cloud reports it in `RrpcCode`.
enum class rrpc_code : std::uint8_t { success, timeout, offline, halfconn, unknown };

/// The one mapping to the cloud's spelling: SUCCESS, TIMEOUT, OFFLINE, HALFCONN, UNKNOWN.
constexpr std::string_view to_string(rrpc_code c) noexcept {
    switch (c) {
        case rrpc_code::success: return "SUCCESS";
        case rrpc_code::timeout: return "TIMEOUT";
        case rrpc_code::offline: return "OFFLINE";
        case rrpc_code::halfconn: return "HALFCONN";
        case rrpc_code::unknown: break;
    }
    return "UNKNOWN";
}

}  // namespace rrpcd::rrpc
