#pragma once

#include "catalog/device_directory.hpp"
#include "catalog/device_key.hpp"
#include "rrpc/call_log.hpp"
#include "rrpc/outbox.hpp"
#include "rrpc/reply_hub.hpp"

#include <optional>
#include <string>
#include <string_view>

/// The shared store's records as they are kept in Redis (pure; JSON text): the catalog (hash
/// `rrpcd:products` by ProductKey, hash `rrpcd:devices` by `{pk}/{dn}`) and the async calls
/// (`rrpcd:call:{id}`). A record that does not decode is treated as absent (and logged by its
/// reader), never as a default.
namespace rrpcd::cluster {

/// `{pk}/{dn}` (a ProductKey has no `/`), and back.
std::string device_field(const catalog::device_key& key);
std::optional<catalog::device_key> device_of_field(std::string_view field);

std::string encode(const catalog::device_record& d);
std::optional<catalog::device_record> decode_device(const catalog::device_key& key,
                                                    std::string_view text);
std::string encode(const catalog::product_record& p);
std::optional<catalog::product_record> decode_product(std::string_view product_key,
                                                      std::string_view text);
std::string encode(const rrpc::call_record& c);
std::optional<rrpc::call_record> decode_call(std::string_view text);
/// A QoS 1 message parked in Redis for a device online nowhere (`rrpcd:q:{pk}/{dn}`).
std::string encode(const rrpc::queued_message& m);
std::optional<rrpc::queued_message> decode_parked(std::string_view text);
/// An async answer as told on `rrpcd:replies` by node `origin` (its own ignored on return).
std::string encode(const rrpc::async_reply& r, std::uint32_t origin);
std::optional<std::pair<std::uint32_t, rrpc::async_reply>> decode_reply(std::string_view text);

}  // namespace rrpcd::cluster
