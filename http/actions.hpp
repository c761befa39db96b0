#pragma once

#include "catalog/device_directory.hpp"
#include "catalog/property_values.hpp"
#include "catalog/thing_model.hpp"
#include "config/settings.hpp"
#include "fleet/fleet.hpp"
#include "http/api_error.hpp"
#include "http/params.hpp"
#include "kit/limit_counters.hpp"
#include "rrpc/call_log.hpp"
#include "rrpc/router.hpp"
#include "store/journal.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rrpcd::http {

/// Limits the action layer applies to parameters (from the settings, which hold the defaults).
struct api_limits {
    std::chrono::milliseconds timeout_min;  ///< RRpc Timeout range
    std::chrono::milliseconds timeout_max;
    std::chrono::milliseconds thing_sync_timeout;  ///< InvokeThingService, callType sync
    std::size_t max_payload_bytes;                 ///< what fits one MQTT packet with its topic
    std::size_t max_pending_per_device;            ///< calls waiting for one device
    bool access_log = true;                        ///< an access line per call (refusals always)
};

/// What the actions act on. All of it lives as long as the api. Devices are reached only
/// through the router.
struct api_services {
    rrpc::router& router;
    rrpc::call_log& calls;
    const catalog::device_directory& devices;
    const catalog::thing_models& models;
    catalog::property_values& properties;  ///< the latest values devices posted
    kit::limit_counters& counters;
    store::journal& journal;  ///< an accepted QoS 1 message is on disk before the API answers
    fleet::service& fleet;    ///< every product and device change
};

/// What every action handler is given: the services, the limits in force, the logger.
struct action_context {
    api_services& services;
    const api_limits& limits;
    spdlog::logger& log;
    std::string_view caller{};  ///< the AccessKeyId that signed it (async budgets are per key)
};

/// A successful action's body (without RequestId/Success).
struct reply {
    boost::json::object body;
};
using action_result = boost::system::result<reply, api_error>;

/// Which of an access key's QPS limits an action counts against (the cloud's classes).
enum class qps_class : std::uint8_t { none, rrpc, async_rrpc, invoke_thing_service };

/// One action of the API: its name as the SDKs send it, its handler, its QPS class, and
/// whether it is a batch (it costs one QPS token per device it names, not one per request).
struct action {
    std::string_view name;
    boost::asio::awaitable<action_result> (*handler)(action_context& ctx,
                                                     const request_params& params);
    qps_class qps = qps_class::none;
    bool batch = false;
};

/// What a request costs against its QPS limit: 1, or for a batch action the devices it names
/// (`DeviceName.N` parameters, at least 1; past 100 the action refuses anyway).
std::uint32_t qps_cost(const action& a, const request_params& params);

/// Every action, sorted by name (the dispatch table).
std::span<const action> actions() noexcept;
/// The action named `name`, or nullptr.
const action* find_action(std::string_view name) noexcept;

// The handlers (rrpc_actions.cpp, thing_actions.cpp, lookup_actions.cpp, device_actions.cpp).
boost::asio::awaitable<action_result> rrpc_action(action_context& ctx,
                                                  const request_params& params);
boost::asio::awaitable<action_result> async_rrpc_action(action_context& ctx,
                                                        const request_params& params);
/// Pub: a message to a device topic at QoS 0, or at QoS 1 kept until acknowledged.
boost::asio::awaitable<action_result> pub_action(action_context& ctx, const request_params& params);
boost::asio::awaitable<action_result> invoke_thing_service(action_context& ctx,
                                                           const request_params& params);
boost::asio::awaitable<action_result> set_device_property(action_context& ctx,
                                                          const request_params& params);
boost::asio::awaitable<action_result> invoke_things_service(action_context& ctx,
                                                            const request_params& params);
boost::asio::awaitable<action_result> set_devices_property(action_context& ctx,
                                                           const request_params& params);
boost::asio::awaitable<action_result> get_thing_model_tsl(action_context& ctx,
                                                          const request_params& params);
boost::asio::awaitable<action_result> query_thing_model(action_context& ctx,
                                                        const request_params& params);
boost::asio::awaitable<action_result> query_device_property_status(action_context& ctx,
                                                                   const request_params& params);
boost::asio::awaitable<action_result> query_product_list(action_context& ctx,
                                                         const request_params& params);
boost::asio::awaitable<action_result> query_device_by_status(action_context& ctx,
                                                             const request_params& params);
boost::asio::awaitable<action_result> query_message_info(action_context& ctx,
                                                         const request_params& params);
boost::asio::awaitable<action_result> create_product(action_context& ctx,
                                                     const request_params& params);
boost::asio::awaitable<action_result> query_product(action_context& ctx,
                                                    const request_params& params);
boost::asio::awaitable<action_result> register_device(action_context& ctx,
                                                      const request_params& params);
boost::asio::awaitable<action_result> query_device_detail(action_context& ctx,
                                                          const request_params& params);
boost::asio::awaitable<action_result> get_device_status(action_context& ctx,
                                                        const request_params& params);
boost::asio::awaitable<action_result> batch_get_device_state(action_context& ctx,
                                                             const request_params& params);
boost::asio::awaitable<action_result> query_device(action_context& ctx,
                                                   const request_params& params);
boost::asio::awaitable<action_result> delete_device(action_context& ctx,
                                                    const request_params& params);
boost::asio::awaitable<action_result> disable_thing(action_context& ctx,
                                                    const request_params& params);
boost::asio::awaitable<action_result> enable_thing(action_context& ctx,
                                                   const request_params& params);

// Shared by the handlers.
using device_result = boost::system::result<catalog::device_ref, api_error>;
/// The addressed device from ProductKey + DeviceName (or IotId when `iot_id` allows it),
/// with the cloud's codes: Null*/InvalidFormatted* and `not_existed`, at HTTP `status`.
device_result find_device(const action_context& ctx, const request_params& params, unsigned status,
                          const char* not_existed, bool iot_id);
/// `iot.messagebroker.RateLimit` (at HTTP `status`): the device's queue of QoS 1 messages is
/// full; the message was not accepted (nothing already accepted is dropped to make room).
api_error queue_full(unsigned status);
/// The store could not keep the QoS 1 message `message_id` (and its async call, if any): it is
/// withdrawn from the device's queue, the call ends UNKNOWN, and the caller gets 503.
boost::asio::awaitable<api_error> not_kept(action_context& ctx, catalog::device_key device,
                                           std::uint64_t message_id);
/// `iot.messagebroker.RateLimit` (at HTTP `status`): as many async calls as `[replies]
/// max_async_calls` allows await their answers; the call was not sent.
api_error too_many_async(unsigned status);
/// 503 `ServiceUnavailable` while the store's writer is behind (`store.max_queue_bytes`): what
/// the call would keep is refused, not queued without bound (counted as `store_queue`).
std::optional<api_error> store_behind(action_context& ctx);
/// A sync call to the device through the router, or `iot.messagebroker.RateLimit` when the
/// device already has as many calls waiting as allowed (one more would only queue behind them).
boost::asio::awaitable<boost::system::result<rrpc::call_result, api_error>> call_device(
    action_context& ctx, rrpc::call_request request);

}  // namespace rrpcd::http
