#pragma once

#include "catalog/device_key.hpp"
#include "rrpc/call_log.hpp"
#include "rrpc/rrpc_code.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace rrpcd::cluster {

/// A sync call forwarded to the device's owner: what rrpc::call_request holds, with the origin
/// node and its ticket (the outcome goes back to `origin` by `ticket`).
struct call_envelope {
    std::uint32_t origin = 0;
    std::uint64_t ticket = 0;
    catalog::device_key device;
    std::string topic;  ///< custom RRPC topic, empty for the system topic
    std::string payload;
    std::uint32_t timeout_ms = 0;
    rrpc::call_kind kind = rrpc::call_kind::rrpc;
    std::string identifier;
    std::uint64_t message_id = 0;  ///< 0: the owner makes one
    std::uint32_t max_pending = 0;
    friend bool operator==(const call_envelope&, const call_envelope&) = default;
};

/// A forwarded call's outcome, back to its origin.
struct outcome_envelope {
    std::uint64_t ticket = 0;
    rrpc::rrpc_code code = rrpc::rrpc_code::unknown;
    std::uint64_t message_id = 0;
    std::uint32_t waiting = 0;  ///< non-zero: refused, this many calls waited already
    std::string payload;
    friend bool operator==(const outcome_envelope&, const outcome_envelope&) = default;
};

/// Close the device's session `session` on this node (a login elsewhere took it over), or any
/// session of the device when `session` is 0 (deleted or disabled; `forget`: its queue goes).
struct kick_envelope {
    catalog::device_key device;
    std::uint64_t session = 0;
    bool forget = false;
    friend bool operator==(const kick_envelope&, const kick_envelope&) = default;
};

/// An async call (AsyncRRpc, an async thing service) or a Pub forwarded to the device's owner:
/// what rrpc::async_request or the Pub holds. Its outcome goes back: `code` success when sent,
/// queued or taken (`waiting` the async_calls::sent value of an async call), offline when a Pub
/// found no session, unknown when a QoS 1 one could not be kept (the owner's store failed).
struct send_envelope {
    std::uint32_t origin = 0;
    std::uint64_t ticket = 0;
    std::uint64_t message_id = 0;
    bool publish = false;   ///< a Pub (else an async call)
    bool reliable = false;  ///< QoS 1
    rrpc::call_kind kind = rrpc::call_kind::async_rrpc;
    catalog::device_key device;
    std::string topic;
    std::string payload;
    std::string identifier;
    std::string alink_id;
    std::string owner;  ///< the access key that made it (its async budget)
    friend bool operator==(const send_envelope&, const send_envelope&) = default;
};

/// A Pub to forward to the device's node (origin and ticket are the relay's).
inline send_envelope pub_envelope(catalog::device_key device, std::uint64_t message_id,
                                  std::string topic, std::string payload, bool reliable) {
    return {.origin = 0,
            .ticket = 0,
            .message_id = message_id,
            .publish = true,
            .reliable = reliable,
            .kind = rrpc::call_kind::async_rrpc,
            .device = std::move(device),
            .topic = std::move(topic),
            .payload = std::move(payload),
            .identifier = {},
            .alink_id = {},
            .owner = {}};
}

using envelope = std::variant<call_envelope, outcome_envelope, kick_envelope, send_envelope>;

/// The bytes of an inbox message: a version byte, the kind, then the fields big-endian, texts
/// after their length (2 bytes; payloads 4). decode() refuses anything else (nullopt): another
/// version, an unknown kind or code, a truncation, trailing bytes.
std::string encode(const envelope& e);
std::optional<envelope> decode(std::string_view bytes);

}  // namespace rrpcd::cluster
