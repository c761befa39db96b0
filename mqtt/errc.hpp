#pragma once

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <type_traits>

namespace rrpcd::mqtt {

/// Why the codec or the protocol refused input. Values are MQTT 5 reason codes where one exists,
/// so that a v5 DISCONNECT could carry them as they are; 3.1.1 just closes the connection.
enum class errc : std::uint8_t {
    malformed_packet = 0x81,
    protocol_error = 0x82,
    unsupported_protocol_version = 0x84,
    client_identifier_not_valid = 0x85,
    bad_username_or_password = 0x86,
    not_authorized = 0x87,
    keep_alive_timeout = 0x8D,
    session_taken_over = 0x8E,
    topic_filter_invalid = 0x8F,
    topic_name_invalid = 0x90,
    packet_too_large = 0x95,
    qos_not_supported = 0x9B,
};

/// The category of `errc`; messages are fixed strings, safe to log.
const boost::system::error_category& mqtt_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), mqtt_category()};
}

}  // namespace rrpcd::mqtt

template <>
struct boost::system::is_error_code_enum<rrpcd::mqtt::errc> : std::true_type {};
