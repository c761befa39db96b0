// InvokeThingService: thing-model services, sync over RRPC or async on the thing/service topic.
#include "http/actions.hpp"
#include "rrpc/topics.hpp"

#include <boost/json.hpp>

namespace rrpcd::http {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr auto failed = "iot.device.InvokeThingServiceFailed";

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

    const bool reliable = qos == "1";
    const auto online = rrpc::classify(ctx.services.devices_online.presence_of(key),
                                       rrpc::presence::clock::now()) == rrpc::liveness::online;
    if (!reliable && !online) co_return no_answer(rrpc::rrpc_code::offline);
    auto topic = rrpc::thing_service_topic(key, identifier);
    rrpc::async_request async_call{
        rrpc::call_kind::thing_async, key,     std::move(topic), std::move(payload), identifier,
        std::to_string(id),           reliable};
    switch (ctx.services.async.send(id, std::move(async_call))) {
        case rrpc::async_calls::sent::ok: break;
        case rrpc::async_calls::sent::offline: co_return no_answer(rrpc::rrpc_code::offline);
        case rrpc::async_calls::sent::queue_full: co_return queue_full(200);
        case rrpc::async_calls::sent::too_many: co_return too_many_async(200);
    }
    // On disk before the caller hears of it.
    if (reliable && co_await ctx.services.journal.sync()) co_return not_kept(ctx, key, id);
    co_return r;
}

}  // namespace rrpcd::http
