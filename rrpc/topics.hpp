#pragma once

#include "catalog/device_key.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rrpcd::rrpc {

/// The longest topic an API caller may name (RRpc `Topic`, AsyncRRpc and Pub `TopicFullName`):
/// with `/ext/rrpc/{MessageId}` in front it still fits MQTT's 65,535-byte topic field
/// [MQTT-1.5.3], so no call can reach the codec with a topic it cannot frame.
inline constexpr std::size_t max_topic_bytes = 65'535 - 32;

/// `/sys/{pk}/{dn}/rrpc/request/{id}`: where a default RRPC request is published.
std::string request_topic(const catalog::device_key& device, std::uint64_t message_id);

/// `/sys/{pk}/{dn}/rrpc/response/{id}`: where the device answers a default RRPC request.
std::string response_topic(const catalog::device_key& device, std::uint64_t message_id);

/// `/ext/rrpc/{id}{topic}`: request and response topic of a custom-topic RRPC (`topic` starts
/// with '/').
std::string custom_rrpc_topic(std::uint64_t message_id, std::string_view topic);

/// `/sys/{pk}/{dn}/thing/service/{identifier}`: where an async thing service is published.
std::string thing_service_topic(const catalog::device_key& device, std::string_view identifier);

/// What the platform subscribes a `_ss=1` device to at login (it sends no SUBSCRIBE for them):
/// every downlink the Link SDKs handle without subscribing (Python `linkkit.py` 1.2.13, C
/// 3.2.0 `dm_client.c`, `dm_fota.c`, `dm_cota.c`; README lists them with their sources).
std::vector<std::string> platform_subscriptions(const catalog::device_key& device);

/// `{topic}_reply`: where a device answers a request published on `topic` (Alink).
std::string reply_topic_of(std::string_view topic);

/// True when `topic` (an `_reply` topic) answers a thing service: the answer is matched by its
/// Alink `id`, not by its order.
bool is_thing_service_reply(std::string_view topic) noexcept;

/// What a device's PUBLISH is, decided from its topic alone.
enum class upstream_kind : std::uint8_t {
    refused,     ///< outside the device's ACL: dropped (and logged)
    rrpc_reply,  ///< answers the RRPC `message_id` (`/sys/{pk}/{dn}/rrpc/response/{id}` or
                 ///< `/ext/rrpc/{id}/...`); consumed by the server, never routed
    reply,       ///< ends in `_reply`: may answer an async call (thing service, AsyncRRpc)
    data,        ///< anything else of the device's own
};

/// A device's PUBLISH, classified.
struct upstream {
    upstream_kind kind = upstream_kind::refused;
    std::uint64_t message_id = 0;  ///< rrpc_reply only; the table still checks device and topic
};

/// Classifies a device's PUBLISH on `topic` (a valid topic name) in one place: the ACL, then
/// the RRPC reply forms with their MessageId. An RRPC reply topic whose id does not parse is
/// `refused` (it can answer nothing, and is not data either).
upstream classify_upstream(const catalog::device_key& device, std::string_view topic) noexcept;

/// True when `topic` is one of the device's custom topics: `/{pk}/{dn}/user/…`.
bool is_custom_topic(const catalog::device_key& device, std::string_view topic);

/// True when `topic` (the RRpc `Topic` parameter, like `/pk/dn/user/get`) is a valid topic name
/// of `device`'s own, so that `/ext/rrpc/{id}{topic}` is within its ACL.
bool is_valid_custom_rrpc_topic(const catalog::device_key& device, std::string_view topic);

/// The device a topic names: `/{pk}/{dn}/…` or `/sys/{pk}/{dn}/…` (Pub's TopicFullName), or
/// nullopt when it names none. Whether the topic is that device's is is_device_topic()'s to say.
std::optional<catalog::device_key> device_of_topic(std::string_view topic);

/// True when `topic` is a valid topic name that `device` may subscribe to (AsyncRRpc's
/// TopicFullName, Pub's topic).
bool is_device_topic(const catalog::device_key& device, std::string_view topic);

/// What a device may do with a topic (or filter).
enum class access { publish, subscribe };

/// The topic ACL: a device may touch only its own topics: `/{pk}/{dn}/...`, `/sys/{pk}/{dn}/...`,
/// `/ext/rrpc/{id|+}/{pk}/{dn}/...` and `/ext/rrpc/{id|+}/sys/{pk}/{dn}/...`,
/// `/ext/session/{pk}/{dn}/...`, `/ext/ntp/{pk}/{dn}/...`, `/shadow/{op}/{pk}/{dn}`,
/// `/ota/device/{op}/{pk}/{dn}`, and subscribe to `/ext/error/{pk}/{dn}` and
/// `/broadcast/{pk}/...`. A wildcard may appear only
/// where it cannot reach another device's topics. `topic` must be a valid name or filter.
bool device_may_access(const catalog::device_key& device, std::string_view topic,
                       access what) noexcept;

}  // namespace rrpcd::rrpc
