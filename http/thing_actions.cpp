// InvokeThingService: thing-model services, sync over RRPC or async on the thing/service topic;
// SetDeviceProperty: thing.service.property.set, an async service of its own; their batch forms
// InvokeThingsService and SetDevicesProperty (async, one product, up to 100 devices); and the
// thing model itself: GetThingModelTsl, QueryThingModel.
#include "http/actions.hpp"
#include "rrpc/topics.hpp"

#include "config/names.hpp"

#include <boost/json.hpp>

#include <algorithm>

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

bool online(const rrpc::presence& p) {
    return rrpc::classify(p, rrpc::presence::clock::now()) == rrpc::liveness::online;
}

/// Sends an async thing service (`identifier`, or `property/set`) as call `id`: at QoS 0 to an
/// online device, or queued at QoS 1 (the caller syncs the journal before it answers). The
/// refusal, or nullopt when the call is on its way.
asio::awaitable<std::optional<api_error>> send_one(action_context& ctx,
                                                   const catalog::device_key& key,
                                                   const std::string& identifier,
                                                   std::string payload, std::uint64_t id,
                                                   bool reliable) {
    if (!reliable && !online((co_await ctx.services.router.link(key)).link))
        co_return no_answer(rrpc::rrpc_code::offline);
    if (auto behind = store_behind(ctx)) co_return behind;  // async calls are kept in the store
    rrpc::async_request call{rrpc::call_kind::thing_async,
                             key,
                             rrpc::thing_service_topic(key, identifier),
                             std::move(payload),
                             identifier,
                             std::to_string(id),
                             reliable,
                             std::string{ctx.caller}};
    switch (co_await ctx.services.router.send(id, std::move(call))) {
        case rrpc::async_calls::sent::ok: co_return std::nullopt;
        case rrpc::async_calls::sent::offline: co_return no_answer(rrpc::rrpc_code::offline);
        case rrpc::async_calls::sent::queue_full: co_return queue_full(200);
        case rrpc::async_calls::sent::too_many: co_return too_many_async(200);
        case rrpc::async_calls::sent::unavailable: co_return gateway::service_unavailable();
    }
    co_return no_answer(rrpc::rrpc_code::offline);
}

/// send_one, then for QoS 1 on disk before the caller hears of it.
asio::awaitable<std::optional<api_error>> send_async(action_context& ctx,
                                                     const catalog::device_key& key,
                                                     const std::string& identifier,
                                                     std::string payload, std::uint64_t id,
                                                     bool reliable) {
    if (auto refused = co_await send_one(ctx, key, identifier, std::move(payload), id, reliable))
        co_return refused;
    if (reliable && co_await ctx.services.journal.sync()) co_return co_await not_kept(ctx, key, id);
    co_return std::nullopt;
}

/// The Alink request of call `id`: `params_text` as the caller wrote it (it parsed as a JSON
/// object): re-serialising would print 100.8 as 1.008E2, which strict device parsers refuse.
std::string alink_request(std::uint64_t id, std::string_view params_text, std::string_view method) {
    return R"({"id":")" + std::to_string(id) + R"(","version":"1.0","params":)" +
           std::string{params_text} + R"(,"method":)" + json::serialize(json::value(method)) + "}";
}

/// `Qos`: 0 (the default) or 1.
boost::system::result<bool, api_error> reliable_of(const request_params& params, const char* code) {
    const auto qos = params.get("Qos").value_or("0");
    if (qos != "0" && qos != "1") return business(code, "Qos must be 0 or 1.");
    return {boost::system::in_place_value, qos == "1"};
}

constexpr std::size_t max_batch = 100;  ///< devices per InvokeThingsService / SetDevicesProperty

/// The batch forms' devices: ProductKey and DeviceName.1 … DeviceName.N (1 to 100, each once).
boost::system::result<std::vector<catalog::device_key>, api_error> batch_devices(
    const action_context& ctx, const request_params& params) {
    const auto pk = std::string{params.get("ProductKey").value_or("")};
    if (pk.empty()) return business("iot.prod.NullProductKey", "The productKey is empty.");
    if (!config::is_valid_product_key(pk))
        return business("iot.prod.InvalidFormattedProductkey",
                        "The productKey format is incorrect.");
    if (ctx.services.devices.find_product(pk) == nullptr)
        return business("iot.prod.NotExistedProduct", "The product does not exist.");
    std::vector<catalog::device_key> devices;
    for (const auto& [name, value] : params.all()) {
        if (!name.starts_with("DeviceName.")) continue;
        catalog::device_key key{pk, std::string{value}};
        if (std::ranges::find(devices, key) != devices.end()) continue;
        if (devices.size() == max_batch)
            return business("iot.device.TooManyDevices",
                            "At most " + std::to_string(max_batch) + " devices per call.");
        if (ctx.services.devices.find(key) == nullptr)
            return business("iot.device.NotExistedDevice",
                            "The device " + std::string{value.substr(0, 64)} + " does not exist.");
        devices.push_back(std::move(key));
    }
    if (devices.empty())
        return business("iot.device.NullDeviceName", "DeviceName.1 … DeviceName.N is empty.");
    return devices;
}

/// Sends `method` with `params_text` on `identifier`'s topic to every device of the batch, or
/// to none: a device offline at QoS 0, or unknown, refuses the whole call before anything is
/// sent. A bound reached part-way (the device's queue, the async budget) stops it there, and
/// the error says which devices were sent to; QoS 1 ones are on disk before the answer.
asio::awaitable<action_result> send_batch(action_context& ctx, const request_params& params,
                                          const std::string& identifier, std::string_view method,
                                          std::string_view params_text, bool reliable) {
    const auto devices = batch_devices(ctx, params);
    if (!devices) co_return devices.error();
    if (!reliable) {
        std::string offline;
        const auto links = co_await ctx.services.router.links(*devices);
        for (std::size_t i = 0; i < devices->size(); ++i)
            if (!online(links[i]))
                offline += (offline.empty() ? "" : ", ") + (*devices)[i].device_name;
        if (!offline.empty())
            co_return business("iot.messagebroker.OFFLINE",
                               "Offline, so nothing was sent (Qos=1 queues for them): " +
                                   offline.substr(0, 512) + ".");
    }
    std::vector<std::pair<catalog::device_key, std::uint64_t>> sent;
    std::optional<api_error> refused;
    for (const auto& d : *devices) {
        const auto id = ctx.services.router.next_id(d);
        refused = co_await send_one(ctx, d, identifier, alink_request(id, params_text, method), id,
                                    reliable);
        if (refused) {
            refused->message += " Stopped at " + d.device_name + ": sent to the " +
                                std::to_string(sent.size()) + " devices before it in the list.";
            break;
        }
        sent.emplace_back(d, id);
    }
    if (reliable && !sent.empty() && co_await ctx.services.journal.sync()) {
        for (const auto& [d, id] : sent) (void)co_await not_kept(ctx, d, id);
        co_return gateway::service_unavailable();
    }
    if (refused) co_return std::move(*refused);
    co_return reply{};
}

/// The product's model, or nullptr for one without (verification-free). The error when the
/// ProductKey names no product.
boost::system::result<const catalog::thing_model*, api_error> model_of(
    const action_context& ctx, const request_params& params) {
    const auto pk = params.get("ProductKey").value_or("");
    if (pk.empty()) return business("iot.prod.NullProductKey", "The productKey is empty.");
    if (ctx.services.devices.find_product(pk) == nullptr)
        return business("iot.prod.NotExistedProduct", "The product does not exist.");
    const auto it = ctx.services.models.find(pk);
    return it == ctx.services.models.end() ? nullptr : &it->second;
}

/// Args checked against the service `identifier` of `model` (none: verification-free).
boost::system::result<void, api_error> check_service(const catalog::thing_model* model,
                                                     const std::string& identifier,
                                                     const json::value& args,
                                                     std::string_view product_key) {
    if (model == nullptr) return {};
    const auto* service = model->find(identifier);
    if (service == nullptr)
        return business(failed, "The service " + identifier +
                                    " is not defined in the thing model of " +
                                    std::string{product_key} + ".");
    if (auto problem = catalog::validate_args(*service, args.as_object()))
        return business(failed, *problem);
    return {};
}

/// The Alink request around `params_text` must fit one MQTT packet, as Pub's payload must
/// (checked before the text is parsed: a 1 MB Args costs no parse).
std::optional<api_error> too_large(const action_context& ctx, std::string_view params_text,
                                   const char* code, std::string_view name) {
    constexpr std::size_t alink_envelope = 160;  // id, version, method around the params
    if (params_text.size() + alink_envelope <= ctx.limits.max_payload_bytes) return std::nullopt;
    return business(code, std::string{name} + " is too large: the request must fit " +
                              std::to_string(ctx.limits.max_payload_bytes) +
                              " bytes with its Alink envelope.");
}

/// Args: a JSON object (`{}` for a service without input), or the error.
boost::system::result<json::value, api_error> args_of(const action_context& ctx,
                                                      const request_params& params) {
    const auto text = params.get("Args");
    if (!text) return business(failed, "Args is empty: use {} for a service without input.");
    if (auto big = too_large(ctx, *text, failed, "Args")) return std::move(*big);
    boost::system::error_code ec;
    auto args = json::parse(*text, ec);
    if (ec || !args.is_object()) return business(failed, "Args is not a JSON object.");
    return args;
}

/// Items: a JSON object of properties, checked against the `set` service a console export
/// declares for the settable (read-write) properties.
boost::system::result<void, api_error> check_items(const action_context& ctx,
                                                   const request_params& params,
                                                   std::string_view product_key) {
    const auto text = params.get("Items");
    if (!text || text->empty()) return business(set_failed, "Items is empty.");
    if (auto big = too_large(ctx, *text, set_failed, "Items")) return std::move(*big);
    boost::system::error_code ec;
    const auto items = json::parse(*text, ec);
    if (ec || !items.is_object() || items.as_object().empty())
        return business(set_failed, "Items is not a JSON object of properties.");
    if (const auto model = ctx.services.models.find(product_key);
        model != ctx.services.models.end())
        if (const auto* set = model->second.find("set"); set != nullptr && !set->input.empty())
            if (auto problem = catalog::validate_args(*set, items.as_object()))
                return business(set_failed, *problem);
    return {};
}

}  // namespace

asio::awaitable<action_result> invoke_thing_service(action_context& ctx,
                                                    const request_params& params) {
    const auto device = find_device(ctx, params, 200, "iot.device.NotExistedDevice", true);
    if (!device) co_return device.error();
    const auto key = (*device)->key;  // a copy: the device may go while the call waits
    const auto identifier = std::string{params.get("Identifier").value_or("")};
    if (identifier.empty()) co_return business(failed, "Identifier is empty.");
    if (!config::is_valid_identifier(identifier))
        co_return business(failed,
                           "Identifier must be 1-50 letters, digits or underscores, as in a thing "
                           "model.");
    const auto args = args_of(ctx, params);
    if (!args) co_return args.error();
    const auto reliable = reliable_of(params, failed);
    if (!reliable) co_return reliable.error();

    // Without a thing model the product is verification-free: every service is async, unchecked.
    const auto model = ctx.services.models.find(key.product_key);
    const auto* known = model != ctx.services.models.end() ? &model->second : nullptr;
    if (auto checked = check_service(known, identifier, *args, key.product_key); !checked)
        co_return checked.error();
    const bool sync = known != nullptr && known->find(identifier)->sync;

    const auto id = ctx.services.router.next_id(key);
    auto payload = alink_request(id, *params.get("Args"), "thing.service." + identifier);
    reply r;
    auto& data = r.body["Data"].emplace_object();
    data["MessageId"] = std::to_string(id);

    if (sync) {
        const auto link = co_await ctx.services.router.link(key);
        // ext=1 (the Link SDKs): on /ext/rrpc/{id}/sys/{pk}/{dn}/thing/service/{Identifier},
        // answered on that topic; else on /sys/{pk}/{dn}/rrpc/request/{id}.
        rrpc::call_request call{
            key,
            std::move(payload),
            link.ext_rrpc ? rrpc::thing_service_topic(key, identifier) : std::string{},
            ctx.limits.thing_sync_timeout,
            rrpc::call_kind::thing_sync,
            identifier,
            id};
        const auto called = co_await call_device(ctx, std::move(call));
        if (!called) co_return called.error();
        if (called->code != rrpc::rrpc_code::success) co_return no_answer(called->code);
        data["Result"] = called->payload;  // the device's Alink reply, verbatim
        co_return r;
    }

    if (auto refused = co_await send_async(ctx, key, identifier, std::move(payload), id, *reliable))
        co_return std::move(*refused);
    co_return r;
}

asio::awaitable<action_result> invoke_things_service(action_context& ctx,
                                                     const request_params& params) {
    // Async for every service, as the API reference says (its answer has no Data to carry a
    // result): each device answers on `{Identifier}_reply`, delivered to the reply stream.
    const auto model = model_of(ctx, params);
    if (!model) co_return model.error();
    const auto identifier = std::string{params.get("Identifier").value_or("")};
    if (identifier.empty()) co_return business(failed, "Identifier is empty.");
    if (!config::is_valid_identifier(identifier))
        co_return business(failed,
                           "Identifier must be 1-50 letters, digits or underscores, as in a thing "
                           "model.");
    const auto args = args_of(ctx, params);
    if (!args) co_return args.error();
    const auto reliable = reliable_of(params, failed);
    if (!reliable) co_return reliable.error();
    if (auto checked = check_service(*model, identifier, *args, *params.get("ProductKey"));
        !checked)
        co_return checked.error();
    co_return co_await send_batch(ctx, params, identifier, "thing.service." + identifier,
                                  *params.get("Args"), *reliable);
}

asio::awaitable<action_result> set_device_property(action_context& ctx,
                                                   const request_params& params) {
    const auto device = find_device(ctx, params, 200, "iot.device.NotExistedDevice", true);
    if (!device) co_return device.error();
    const auto key = (*device)->key;
    if (auto checked = check_items(ctx, params, key.product_key); !checked)
        co_return checked.error();
    const auto reliable = reliable_of(params, set_failed);
    if (!reliable) co_return reliable.error();
    const auto id = ctx.services.router.next_id(key);
    auto payload = alink_request(id, *params.get("Items"), "thing.service.property.set");
    if (auto refused =
            co_await send_async(ctx, key, "property/set", std::move(payload), id, *reliable))
        co_return std::move(*refused);
    reply r;
    r.body["Data"].emplace_object()["MessageId"] = std::to_string(id);
    co_return r;
}

asio::awaitable<action_result> set_devices_property(action_context& ctx,
                                                    const request_params& params) {
    const auto model = model_of(ctx, params);
    if (!model) co_return model.error();
    if (auto checked = check_items(ctx, params, *params.get("ProductKey")); !checked)
        co_return checked.error();
    const auto reliable = reliable_of(params, set_failed);
    if (!reliable) co_return reliable.error();
    co_return co_await send_batch(ctx, params, "property/set", "thing.service.property.set",
                                  *params.get("Items"), *reliable);
}

asio::awaitable<action_result> get_thing_model_tsl(action_context& ctx,
                                                   const request_params& params) {
    const auto model = model_of(ctx, params);
    if (!model) co_return model.error();
    const auto pk = std::string{*params.get("ProductKey")};
    const auto block = params.get("FunctionBlockId").value_or("");
    const auto* document = *model ? catalog::find_document(**model, block) : nullptr;
    if (document == nullptr && !block.empty())
        co_return business(
            "iot.thingmodel.NotExistedFunctionBlock",
            "The product has no TSL module " + std::string{block.substr(0, 64)} + ".");
    std::string text;
    if (document != nullptr) {
        text = document->text;
    } else {  // a product without a thing model: the empty one the console shows
        json::object empty;
        empty["schema"] = "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json";
        empty["profile"].emplace_object()["productKey"] = pk;
        empty["properties"] = json::array{};
        empty["events"] = json::array{};
        empty["services"] = json::array{};
        text = json::serialize(empty);
    }
    reply r;
    r.body["Data"].emplace_object()["TslStr"] =
        params.get("Simple") == "true" ? catalog::simple_tsl(text) : text;
    co_return r;
}

asio::awaitable<action_result> query_thing_model(action_context& ctx,
                                                 const request_params& params) {
    const auto model = model_of(ctx, params);
    if (!model) co_return model.error();
    const auto pk = std::string{*params.get("ProductKey")};
    const auto block = params.get("FunctionBlockId").value_or("");
    if (!block.empty() && (*model == nullptr || !catalog::find_document(**model, block)))
        co_return business(
            "iot.thingmodel.NotExistedFunctionBlock",
            "The product has no TSL module " + std::string{block.substr(0, 64)} + ".");
    reply r;
    r.body["Data"].emplace_object()["ThingModelJson"] =
        catalog::thing_model_json(*model, pk, block);
    r.body["ProductKey"] = pk;
    co_return r;
}

asio::awaitable<action_result> query_device_property_status(action_context& ctx,
                                                            const request_params& params) {
    const auto device = find_device(ctx, params, 200, "iot.device.NotExistedDevice", true);
    if (!device) co_return device.error();
    const auto& key = (*device)->key;
    // `FunctionBlockId`: that module's properties (`module:identifier` here), else the default
    // module's.
    const auto block = std::string{params.get("FunctionBlockId").value_or("")};
    const auto prefix = block.empty() ? std::string{} : block + ":";
    const auto model = ctx.services.models.find(key.product_key);
    const auto* labels =
        model != ctx.services.models.end() ? &model->second.property_labels : nullptr;
    json::array list;
    for (auto& v : ctx.services.properties.of(key)) {
        const auto colon = v.identifier.find(':');
        if (block.empty() ? colon != std::string::npos : !v.identifier.starts_with(prefix))
            continue;
        json::object info;
        const auto identifier = v.identifier.substr(prefix.size());
        info["Identifier"] = identifier;
        // Value as the platform gives it: a string (a text value unquoted, others as JSON).
        boost::system::error_code ec;
        const auto parsed = json::parse(v.value, ec);
        info["Value"] = !ec && parsed.is_string() ? std::string{parsed.as_string()} : v.value;
        info["Time"] = std::to_string(v.time_ms);
        const catalog::property_label* label = nullptr;
        if (labels != nullptr)
            if (const auto it = labels->find(v.identifier); it != labels->end())
                label = &it->second;
        info["Name"] = label != nullptr ? label->name : identifier;
        info["Unit"] = label != nullptr ? label->unit : std::string{};
        info["DataType"] = label != nullptr ? label->type : std::string{};
        list.push_back(std::move(info));
    }
    reply r;
    r.body["Data"].emplace_object()["List"].emplace_object()["PropertyStatusInfo"] =
        std::move(list);
    co_return r;
}

}  // namespace rrpcd::http
