#pragma once

#include "catalog/device_key.hpp"
#include "catalog/thing_model.hpp"
#include "config/names.hpp"

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rrpcd::uplink {

/// What a device sent, as the server-side subscription names it.
enum class kind : std::uint8_t {
    reply,     ///< an async service or property-set answer (thing/downlink/reply/message)
    property,  ///< a property post (thing/event/property/post)
    event,     ///< an event post (thing/event/{id}/post)
    custom,    ///< a custom topic (/{pk}/{dn}/user/…), the device's bytes unchanged
    status,    ///< online and offline (/as/mqtt/status/{pk}/{dn})
};
inline constexpr auto kind_names = config::uplink_kinds;
constexpr std::string_view to_string(kind k) noexcept {
    return kind_names[static_cast<std::size_t>(k)];
}
std::optional<kind> kind_of(std::string_view name) noexcept;

/// One message of the server-side subscription: its topic and body as the platform forwards
/// them (the "data formats" page), and what a consumer reads beside them.
struct event {
    std::uint64_t id = 0;  ///< `messageId`: the same on every redelivery
    kind what = kind::custom;
    std::string product_key;       ///< what a group subscribes by
    std::string topic;             ///< the forwarding topic (`topic` application property)
    std::string body;              ///< the data section's bytes
    std::int64_t generate_ms = 0;  ///< `generateTime`
    int qos = 0;                   ///< the QoS the device sent it with (`qos`)
};

/// The bytes an event is kept as in the store (its id is the row's): a version byte, kind,
/// qos, generateTime (8 bytes, big-endian), topic and product key (2-byte lengths), then the
/// body. decode() refuses anything else (nullopt).
std::string encode(const event& e);
std::optional<event> decode(std::uint64_t id, std::string_view stored);

/// The forwarding topic of a device's upstream topic: `/sys/{pk}/{dn}/thing/…` loses `/sys`;
/// a custom topic `/{pk}/{dn}/user/…` stays.
std::string forwarding_topic(std::string_view device_topic);
/// `/{pk}/{dn}/thing/downlink/reply/message`: where async answers are forwarded.
std::string reply_topic(const catalog::device_key& device);
/// `/as/mqtt/status/{pk}/{dn}`.
std::string status_topic(const catalog::device_key& device);

/// A property post's forwarded body: `{iotId, productKey, deviceName, gmtCreate, items:
/// {id: {value, time}}}`, each property's time its own (the `{"value","time"}` form) or
/// `gmt_ms`; what failed the thing model goes in `checkFailedData` (`{id: {value, time, code,
/// message}}`) instead of `items`.
std::string property_body(const catalog::device_key& device, std::string_view iot_id,
                          std::int64_t gmt_ms, const boost::json::object& params,
                          const std::vector<catalog::check_failure>& failed);

/// An event post's forwarded body: `{identifier, iotId, productKey, deviceName, gmtCreate,
/// value, time}` (its params' `value` and `time`, or the params themselves as the value), with
/// `checkFailedData` when the thing model refused it.
std::string event_body(const catalog::device_key& device, std::string_view iot_id,
                       std::string_view identifier, std::int64_t gmt_ms,
                       const boost::json::object& params,
                       const std::vector<catalog::check_failure>& failed);

/// An event as one JSON document (what a webhook that receives more than async answers is
/// POSTed): `{kind, topic, messageId, generateTime, qos, productKey, body, payloadBase64}`,
/// `body` the body parsed when it is JSON (every kind but custom topics', usually),
/// `payloadBase64` its bytes always.
std::string event_json(const event& e);

/// What a reply stream asks for: `GET /v1/replies/stream?kinds=property,status&products=a1PK`
/// (comma-separated; no `kinds`: the async answers only, as before; no `products`: all).
struct stream_filter {
    std::vector<std::string> kinds{"reply"};
    std::vector<std::string> products{};
};
/// The filter of a request target's query; the error names what is wrong (a kind that is not
/// one of the uplink's, a query that does not parse).
boost::system::result<stream_filter, std::string> stream_filter_of(std::string_view target);

/// Why a device went offline (`offlineReasonCode`; the platform publishes no list: 427 is its
/// example, a takeover).
enum class offline_reason : int {
    takeover = 427,       ///< the same device logged in again
    disconnected = 428,   ///< it sent DISCONNECT
    lost = 429,           ///< the connection broke, or the keep-alive ran out
    removed = 521,        ///< deleted or disabled through the API
    server_stopped = 503  ///< rrpcd stopped
};

/// The status body: `{status, iotId, productKey, deviceName, time, utcTime, lastTime,
/// utcLastTime, clientIp}` (`time` in UTC+8 as the platform writes it, `utcTime` ISO 8601),
/// `offlineReasonCode` when offline.
std::string status_body(const catalog::device_key& device, std::string_view iot_id, bool online,
                        std::int64_t time_ms, std::int64_t last_ms, std::string_view client_ip,
                        std::optional<offline_reason> why);

}  // namespace rrpcd::uplink
