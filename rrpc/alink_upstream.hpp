#pragma once

#include "catalog/device_key.hpp"
#include "catalog/thing_model.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rrpcd::rrpc {

/// The Alink requests a device sends on its platform topics and the platform answers (what the
/// Link SDKs publish and wait for: Python `linkkit.py` 1.2.13, C iotkit-embedded 3.0.1/3.2.0
/// `dm_msg.c`, `dm_client.c`; README lists them).
enum class alink_kind : std::uint8_t {
    property_post,          ///< thing/event/property/post
    event_post,             ///< thing/event/{identifier}/post
    property_history_post,  ///< thing/event/property/history/post
    property_pack_post,     ///< thing/event/property/pack/post
    deviceinfo_update,      ///< thing/deviceinfo/update
    deviceinfo_delete,      ///< thing/deviceinfo/delete
    config_get,             ///< thing/config/get (remote configuration: none here)
    model_get,              ///< thing/dsltemplate/get, thing/dynamicTsl/get: the thing model
    ota_firmware_get,       ///< thing/ota/firmware/get (no firmware here)
    ntp,                    ///< /ext/ntp/{pk}/{dn}/request
    gateway,                ///< topology, sub-device register and login: not served here
    malformed,              ///< on an Alink request topic, but not an Alink request
};
inline constexpr std::size_t alink_kinds = 12;
std::string_view to_string(alink_kind k) noexcept;

/// The platform's answer to a device's Alink request: where it goes and what it says.
struct alink_answer {
    alink_kind kind = alink_kind::malformed;
    std::string reply_topic;
    std::string reply;   ///< the body, as the platform writes it
    int code = 200;      ///< 200, or the platform's error code
    std::string reason;  ///< why it is not 200 (the reply's message), for the log
    /// Property posts: what failed the thing model, one per property (the uplink keeps them).
    std::vector<catalog::check_failure> failed;
    /// Property and event posts whose params are an object: them, as parsed here, even when the
    /// thing model refused some (the uplink forwards both; the latest values keep a 200's).
    boost::json::object params;
    /// An event post: its identifier (the topic's `{identifier}`).
    std::string event;
};

/// The platform's answer to `payload` published by `device` on `topic` (one of its own), when
/// the topic is an Alink request the platform answers; nullopt otherwise (a custom topic, a
/// reply, an RRPC answer). `model` is the product's thing model (null: verification-free, as
/// the platform's products without one are), `now_ms` the time (NTP). Pure: no I/O, no clock.
///
/// Replies carry the request's own `id` (as a string: the C SDK parses only a string id) with
/// `{"code","data","id","message","method","version"}` (the Python SDK reads id, code, data
/// and message). Codes, from the platform's "error codes for devices" page and its code space
/// (the C SDK's `infra_defs.h` mirrors it): 460 a request that is not Alink JSON, has no `id`,
/// or whose `method` does not match its topic; 6301 `params` not an object; 6106 more than
/// 200 properties; 6206 a property the thing model does not have; 6300 an event it does not
/// have; 6315 a value that does not satisfy it; 400 a gateway request (not served here).
std::optional<alink_answer> answer_alink(const catalog::device_key& device, std::string_view topic,
                                         std::string_view payload,
                                         const catalog::thing_model* model, std::int64_t now_ms);

}  // namespace rrpcd::rrpc
