// InvokeThingService: thing-model services, sync over RRPC or async on the thing/service topic;
// SetDeviceProperty: thing.service.property.set, an async service of its own.
#include "http/actions.hpp"
#include "rrpc/topics.hpp"

#include <boost/json.hpp>

namespace rrpcd::http {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr auto failed = "iot.device.InvokeThingServiceFailed";
constexpr auto set_failed = "iot.device.SetDevicePropertyFailed";

api_error no_answer(rrpc::rrpc_code code) {
    switch (code) {
        case rrpc::rrpc_code::timeout:
            return business("iot.messagebroker.TIMEOUT", "The device did not answer in time.");
        case rrpc::rrpc_code::offline:
            return business("iot.messagebroker.OFFLINE", "The device is offline.");
        case rrpc::rrpc_code::halfconn:
            return business("iot.messagebroker.HALFCONN", "The device's connection is half-open.");
        default: break;
    }
    return business("iot.messagebroker.RrpcFailed", "The call failed.");
}

/// Sends an async thing service (`identifier`, or `property/set`) as call `id`: at QoS 0 to an
/// online device, or queued at QoS 1 and on disk before the caller hears of it. The refusal,
/// or nullopt when the call is on its way.
asio::awaitable<std::optional<api_error>> send_async(action_context& ctx,
                                                     const catalog::device_key& key,
                                                     const std::string& identifier,
                                                     std::string payload, std::uint64_t id,
                                                     bool reliable) {
    const auto online = rrpc::classify(ctx.services.devices_online.presence_of(key),
                                       rrpc::presence::clock::now()) == rrpc::liveness::online;
    if (!reliable && !online) co_return no_answer(rrpc::rrpc_code::offline);
    rrpc::async_request call{rrpc::call_kind::thing_async,
                             key,
                             rrpc::thing_service_topic(key, identifier),
                             std::move(payload),
                             identifier,
                             std::to_string(id),
                             reliable};
    switch (ctx.services.async.send(id, std::move(call))) {
        case rrpc::async_calls::sent::ok: break;
        case rrpc::async_calls::sent::offline: co_return no_answer(rrpc::rrpc_code::offline);
        case rrpc::async_calls::sent::queue_full: co_return queue_full(200);
        case rrpc::async_calls::sent::too_many: co_return too_many_async(200);
    }
    if (reliable && co_await ctx.services.journal.sync()) co_return not_kept(ctx, key, id);
    co_return std::nullopt;
}

}  // namespace

asio::awaitable<action_result> invoke_thing_service(action_context& ctx,
                                                    const request_params& params) {
    const auto device = find_device(ctx, params, 200, "iot.device.NotExistedDevice", true);
    if (!device) co_return device.error();
    const auto key = (*device)->key;  // a copy: the device may go while the call waits
    const auto identifier = std::string{params.get("Identifier").value_or("")};
    if (identifier.empty()) co_return business(failed, "Identifier is empty.");
    const auto args_text = params.get("Args");
    if (!args_text)
        co_return business(failed, "Args is empty: use {} for a service without input.");
    boost::system::error_code ec;
    auto args = json::parse(*args_text, ec);
    if (ec || !args.is_object()) co_return business(failed, "Args is not a JSON object.");
    const auto qos = params.get("Qos").value_or("0");
    if (qos != "0" && qos != "1") co_return business(failed, "Qos must be 0 or 1.");

    // Without a thing model the product is verification-free: every service is async, unchecked.
    bool sync = false;
    if (const auto model = ctx.services.models.find(key.product_key);
        model != ctx.services.models.end()) {
        const auto* service = model->second.find(identifier);
        if (service == nullptr)
            co_return business(failed, "The service " + identifier +
                                           " is not defined in the thing model of " +
                                           key.product_key + ".");
        if (auto problem = catalog::validate_args(*service, args.as_object()))
            co_return business(failed, *problem);
        sync = service->sync;
    }

    const auto id = ctx.services.rrpc.next_id();
    // The Alink request carries the caller's Args text as it came (it parsed as a JSON object
    // above): re-serialising would print 100.8 as 1.008E2, which strict device parsers refuse.
    auto payload = R"({"id":")" + std::to_string(id) + R"(","version":"1.0","params":)" +
                   std::string{*args_text} + R"(,"method":)" +
                   json::serialize(json::value("thing.service." + identifier)) + "}";
    reply r;
    auto& data = r.body["Data"].emplace_object();
    data["MessageId"] = std::to_string(id);

    if (sync) {
        if (auto busy = too_many_pending(ctx, key)) co_return std::move(*busy);
        // ext=1 (the Link SDKs): on /ext/rrpc/{id}/sys/{pk}/{dn}/thing/service/{Identifier},
        // answered on that topic; else on /sys/{pk}/{dn}/rrpc/request/{id}.
        rrpc::call_request call{key,
                                std::move(payload),
                                ctx.services.devices_online.ext_rrpc(key)
                                    ? rrpc::thing_service_topic(key, identifier)
                                    : std::string{},
                                ctx.limits.thing_sync_timeout,
                                rrpc::call_kind::thing_sync,
                                identifier,
                                id};
        const auto outcome = co_await ctx.services.rrpc.call(std::move(call));
        if (outcome.code != rrpc::rrpc_code::success) co_return no_answer(outcome.code);
        data["Result"] = outcome.payload;  // the device's Alink reply, verbatim
        co_return r;
    }

    if (auto refused =
            co_await send_async(ctx, key, identifier, std::move(payload), id, qos == "1"))
        co_return std::move(*refused);
    co_return r;
}

asio::awaitable<action_result> set_device_property(action_context& ctx,
                                                   const request_params& params) {
    const auto device = find_device(ctx, params, 200, "iot.device.NotExistedDevice", true);
    if (!device) co_return device.error();
    const auto key = (*device)->key;
    const auto items_text = params.get("Items");
    if (!items_text || items_text->empty()) co_return business(set_failed, "Items is empty.");
    boost::system::error_code ec;
    auto items = json::parse(*items_text, ec);
    if (ec || !items.is_object() || items.as_object().empty())
        co_return business(set_failed, "Items is not a JSON object of properties.");
    const auto qos = params.get("Qos").value_or("0");
    if (qos != "0" && qos != "1") co_return business(set_failed, "Qos must be 0 or 1.");
    // A console export declares the settable (read-write) properties as its `set` service.
    if (const auto model = ctx.services.models.find(key.product_key);
        model != ctx.services.models.end())
        if (const auto* set = model->second.find("set"); set != nullptr && !set->input.empty())
            if (auto problem = catalog::validate_args(*set, items.as_object()))
                co_return business(set_failed, *problem);
    const auto id = ctx.services.rrpc.next_id();
    auto payload = R"({"id":")" + std::to_string(id) + R"(","version":"1.0","params":)" +
                   std::string{*items_text} + R"(,"method":"thing.service.property.set"})";
    if (auto refused =
            co_await send_async(ctx, key, "property/set", std::move(payload), id, qos == "1"))
        co_return std::move(*refused);
    reply r;
    r.body["Data"].emplace_object()["MessageId"] = std::to_string(id);
    co_return r;
}

}  // namespace rrpcd::http
