#include "http/actions.hpp"

#include "config/names.hpp"

#include <algorithm>
#include <array>

namespace rrpcd::http {

namespace asio = boost::asio;

namespace {

constexpr std::array<action, 23> table{{
    {"AsyncRRpc", async_rrpc_action, qps_class::async_rrpc},
    {"BatchGetDeviceState", batch_get_device_state},
    {"CreateProduct", create_product},
    {"DeleteDevice", delete_device},
    {"DisableThing", disable_thing},
    {"EnableThing", enable_thing},
    {"GetDeviceStatus", get_device_status},
    {"GetThingModelTsl", get_thing_model_tsl},
    {"InvokeThingService", invoke_thing_service, qps_class::invoke_thing_service},
    {"InvokeThingsService", invoke_things_service, qps_class::invoke_thing_service, true},
    {"Pub", pub_action},
    {"QueryDevice", query_device},
    {"QueryDeviceByStatus", query_device_by_status},
    {"QueryDeviceDetail", query_device_detail},
    {"QueryDevicePropertyStatus", query_device_property_status},
    {"QueryMessageInfo", query_message_info},
    {"QueryProduct", query_product},
    {"QueryProductList", query_product_list},
    {"QueryThingModel", query_thing_model},
    {"RRpc", rrpc_action, qps_class::rrpc},
    {"RegisterDevice", register_device},
    {"SetDeviceProperty", set_device_property, qps_class::invoke_thing_service},
    {"SetDevicesProperty", set_devices_property, qps_class::invoke_thing_service, true},
}};

}  // namespace

std::span<const action> actions() noexcept {
    return table;
}

const action* find_action(std::string_view name) noexcept {
    const auto all = actions();
    const auto it =
        std::lower_bound(all.begin(), all.end(), name,
                         [](const action& a, std::string_view n) { return a.name < n; });
    return it != all.end() && it->name == name ? &*it : nullptr;
}

std::uint32_t qps_cost(const action& a, const request_params& params) {
    if (!a.batch) return 1;
    std::uint32_t named = 0;
    for (const auto& list : {&params.query, &params.form})
        for (const auto& [name, value] : *list)
            if (name.starts_with("DeviceName.") && named < 101) ++named;
    return std::max<std::uint32_t>(named, 1);
}

asio::awaitable<api_error> not_kept(action_context& ctx, catalog::device_key device,
                                    std::uint64_t message_id) {
    co_await ctx.services.router.withdraw(std::move(device), message_id);
    ctx.services.calls.finish(message_id, rrpc::call_state::unknown);
    co_return gateway::service_unavailable();
}

api_error queue_full(unsigned status) {
    return {status, "iot.messagebroker.RateLimit",
            "The device's queue of QoS 1 messages is full; try again when it has taken some."};
}

api_error too_many_async(unsigned status) {
    return {status, "iot.messagebroker.RateLimit",
            "As many async calls as allowed await their answers; try again when some are answered "
            "or expire."};
}

std::optional<api_error> store_behind(action_context& ctx) {
    if (!ctx.services.journal.busy()) return std::nullopt;
    if (ctx.services.counters.hit(kit::limit::store_queue))
        ctx.log.warn("event=limit_hit limit=store_queue count={}",
                     ctx.services.counters.count(kit::limit::store_queue));
    return api_error{503, "ServiceUnavailable",
                     "The store is behind on its writes; try again shortly."};
}

asio::awaitable<boost::system::result<rrpc::call_result, api_error>> call_device(
    action_context& ctx, rrpc::call_request request) {
    const auto device = request.device;
    auto outcome =
        co_await ctx.services.router.call(std::move(request), ctx.limits.max_pending_per_device);
    if (outcome.unavailable)
        co_return api_error{503, "ServiceUnavailable",
                            "The cluster's shared state (Redis) does not answer; try again "
                            "shortly."};
    if (outcome.waiting == 0) co_return std::move(outcome.result);
    if (ctx.services.counters.hit(kit::limit::pending_calls_per_device))
        ctx.log.warn(
            "event=limit_hit limit=pending_calls_per_device pk={} dn={} pending={} count={}",
            device.product_key, device.device_name, outcome.waiting,
            ctx.services.counters.count(kit::limit::pending_calls_per_device));
    co_return business("iot.messagebroker.RateLimit",
                       "The device already has " + std::to_string(outcome.waiting) +
                           " calls waiting for its reply; try again when they are answered.");
}

device_result find_device(const action_context& ctx, const request_params& params, unsigned status,
                          const char* not_existed, bool iot_id) {
    if (const auto id = params.get("IotId"); iot_id && id && !id->empty()) {
        if (auto d = ctx.services.devices.find_by_iot_id(*id)) return d;
        return api_error{status, not_existed, "The device does not exist."};
    }
    const auto pk = params.get("ProductKey").value_or("");
    const auto dn = params.get("DeviceName").value_or("");
    if (pk.empty()) return api_error{status, "iot.prod.NullProductKey", "The productKey is empty."};
    if (!config::is_valid_product_key(pk))
        return api_error{status, "iot.prod.InvalidFormattedProductkey",
                         "The productKey format is incorrect."};
    if (dn.empty())
        return api_error{status, "iot.device.NullDeviceName", "The deviceName is empty."};
    if (!config::is_valid_device_name(dn))
        return api_error{
            status, "iot.device.InvalidFormattedDeviceName",
            "The deviceName format is incorrect: 4-32 characters of A-Z a-z 0-9 - _ @ . :"};
    if (auto d = ctx.services.devices.find({std::string{pk}, std::string{dn}})) return d;
    return api_error{status, not_existed, "The device does not exist."};
}

}  // namespace rrpcd::http
