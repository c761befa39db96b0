#pragma once

#include "mqtt/errc.hpp"
#include "mqtt/packet.hpp"

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace rrpcd::mqtt {

/// Largest value a Remaining Length can carry [MQTT-2.2.3]: 268,435,455.
constexpr std::uint32_t max_remaining_length = 268'435'455;

/// Appends the variable byte integer encoding of `value` (at most 4 bytes) [MQTT-2.2.3].
void encode_varint(std::uint32_t value, std::vector<std::uint8_t>& out);

/// Result of reading one frame from the front of a byte buffer.
struct frame_result {
    enum class status : std::uint8_t { complete, need_more, malformed, too_large };
    frame_result::status status = status::need_more;
    std::uint8_t header = 0;             ///< first byte: type << 4 | flags (when known)
    std::uint32_t remaining_length = 0;  ///< known once the length field is complete
    std::span<const std::uint8_t> body;  ///< the variable header and payload (complete only)
    std::size_t size = 0;                ///< bytes of the whole frame (complete only)
};

/// Reads one MQTT frame from the front of `in`, without copying. The remaining length is checked
/// against `max_packet_size` (whole frame, header included) as soon as it is known, before any
/// body is buffered; a fifth length byte is malformed [MQTT-2.2.3].
frame_result read_frame(std::span<const std::uint8_t> in, std::size_t max_packet_size) noexcept;

/// Decodes a complete frame into a packet, validating it strictly per MQTT 3.1.1.
/// CONNECT with another protocol level is decoded (the server answers CONNACK 1 [MQTT-3.1.2-2]).
boost::system::result<packet> decode(std::uint8_t header, std::span<const std::uint8_t> body);

/// The longest string a two-byte length prefix can carry [MQTT-1.5.3].
inline constexpr std::size_t max_string_bytes = 65'535;

/// Appends the wire form of `p` to `out`. A PUBLISH that MQTT cannot frame (see
/// encode_publish) appends nothing.
void encode(const packet& p, std::vector<std::uint8_t>& out);

/// Appends a PUBLISH built from views, without materialising a `publish` (the hot path). What
/// MQTT cannot frame appends nothing: a topic over 65,535 bytes is `topic_name_invalid`, a
/// remaining length over 268,435,455 `packet_too_large`.
boost::system::result<void> encode_publish(std::string_view topic, std::string_view payload,
                                           mqtt::qos qos, std::uint16_t packet_id, bool dup,
                                           std::vector<std::uint8_t>& out);

/// True when `s` is well-formed UTF-8 without U+0000 nor surrogates [MQTT-1.5.3-1] [MQTT-1.5.3-2].
bool is_valid_mqtt_utf8(std::string_view s) noexcept;

}  // namespace rrpcd::mqtt
