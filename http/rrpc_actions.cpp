// RRpc and AsyncRRpc.
#include "http/actions.hpp"

#include "kit/base64.hpp"
#include "kit/parse_whole.hpp"
#include "rrpc/topics.hpp"

namespace rrpcd::http {

namespace asio = boost::asio;

namespace {

/// The base64 payload parameter `name`, decoded, at most `max` bytes, or the cloud's error.
boost::system::result<std::string, api_error> payload_param(const request_params& params,
                                                            std::string_view name, std::size_t max,
                                                            unsigned status) {
    const auto content = params.get(name);
    if (!content || content->empty())
        return api_error{status, "iot.messagebroker.NullMessageContent",
                         "The message content is empty."};
    auto payload = kit::base64_decode(*content);
    if (!payload)
        return api_error{status, "iot.messagebroker.MessageContentIsNotBase64Encode",
                         "The message content is not base64 encoded."};
    if (payload->size() > max)
        return api_error{status, "iot.messagebroker.MessageContentTooLarge",
                         "The message is larger than " + std::to_string(max) + " bytes."};
    return std::move(*payload);
}

}  // namespace

asio::awaitable<action_result> rrpc_action(action_context& ctx, const request_params& params) {
    const auto device = find_device(ctx, params, 200, "iot.device.NotExistedDevice", false);
    if (!device) co_return device.error();
    auto payload = payload_param(params, "RequestBase64Byte", ctx.limits.max_payload_bytes, 200);
    if (!payload) co_return payload.error();
    const auto timeout_text = params.get("Timeout") ? params.get("Timeout") : params.get("TimeOut");
    const auto timeout =
        timeout_text ? kit::parse_whole<std::int64_t>(*timeout_text) : std::nullopt;
    if (!timeout || *timeout < ctx.limits.timeout_min.count() ||
        *timeout > ctx.limits.timeout_max.count())
        co_return business("iot.messagebroker.InvalidTimeoutValue",
                           "The timeout must be between " +
                               std::to_string(ctx.limits.timeout_min.count()) + " and " +
                               std::to_string(ctx.limits.timeout_max.count()) + " milliseconds.");
    const auto& key = (*device)->key;
    const auto topic = std::string{params.get("Topic").value_or("")};
    if (!topic.empty() && !rrpc::is_valid_custom_rrpc_topic(key, topic))
        co_return business("iot.messagebroker.InvalidFormattedTopicName",
                           "The topic must be one of the device's own topics, like /" +
                               key.product_key + "/" + key.device_name + "/user/get.");

    // Named first: GCC 12 destroys a temporary argument inside a co_await expression twice.
    rrpc::call_request call{key, std::move(*payload), topic, std::chrono::milliseconds{*timeout}};
    const auto called = co_await call_device(ctx, std::move(call));
    if (!called) co_return called.error();
    const auto& outcome = *called;
    reply r;
    r.body["RrpcCode"] = rrpc::to_string(outcome.code);
    if (outcome.code == rrpc::rrpc_code::success)
        r.body["PayloadBase64Byte"] = kit::base64_encode(outcome.payload);
    r.body["MessageId"] = outcome.message_id;
    co_return r;
}

asio::awaitable<action_result> async_rrpc_action(action_context& ctx,
                                                 const request_params& params) {
    // The seed's statuses: every AsyncRRpc refusal is HTTP 400.
    const auto device = find_device(ctx, params, 400, "iot.Device.NotExistedDevice", false);
    if (!device) co_return device.error();
    auto payload = payload_param(params, "MessageContent", ctx.limits.max_payload_bytes, 400);
    if (!payload) co_return payload.error();
    const auto key = (*device)->key;  // a copy: the device may go while the call waits
    const auto topic = std::string{params.get("TopicFullName").value_or("")};
    if (topic.empty())
        co_return api_error{400, "iot.messagebroker.NullTopicName", "TopicFullName is empty."};
    if (!rrpc::is_device_topic(key, topic))
        co_return api_error{400, "iot.messagebroker.InvalidFormattedTopicName",
                            "TopicFullName must be a topic of the device, like /" +
                                key.product_key + "/" + key.device_name + "/user/get."};
    const auto link = co_await ctx.services.router.link(key);
    if (link.unavailable) co_return gateway::service_unavailable();
    const auto& presence = link.link;
    if (presence.link == rrpc::presence::state::never)
        co_return api_error{400, "iot.device.InactiveDevice",
                            "The device is inactive: it never connected."};
    if (rrpc::classify(presence, rrpc::presence::clock::now()) != rrpc::liveness::online)
        co_return api_error{400, "iot.device.OfflineDevice", "The device is offline."};

    if (auto behind = store_behind(ctx)) co_return std::move(*behind);
    const auto id = ctx.services.router.next_id(key);
    // Accepted for an online device: QoS 1, kept until the device acknowledges it.
    rrpc::async_request call{
        rrpc::call_kind::async_rrpc, key, topic, std::move(*payload), {}, {}, true,
        std::string{ctx.caller}};
    switch (co_await ctx.services.router.send(id, std::move(call))) {
        case rrpc::async_calls::sent::ok:
        case rrpc::async_calls::sent::offline: break;  // reliable: never offline
        case rrpc::async_calls::sent::queue_full: co_return queue_full(400);
        case rrpc::async_calls::sent::too_many: co_return too_many_async(400);
        case rrpc::async_calls::sent::unavailable: co_return gateway::service_unavailable();
    }
    // On disk before the caller hears it was accepted.
    if (co_await ctx.services.journal.sync()) co_return co_await not_kept(ctx, key, id);
    reply r;
    r.body["MessageId"] = id;
    co_return r;
}

asio::awaitable<action_result> pub_action(action_context& ctx, const request_params& params) {
    const auto topic = std::string{params.get("TopicFullName").value_or("")};
    if (topic.empty())
        co_return business("iot.messagebroker.NullTopicName", "TopicFullName is empty.");
    const auto key = rrpc::device_of_topic(topic).value_or(catalog::device_key{});
    if (key.product_key != params.get("ProductKey").value_or("") ||
        !rrpc::is_device_topic(key, topic))
        co_return business("iot.messagebroker.InvalidFormattedTopicName",
                           "TopicFullName must be a topic of a device of ProductKey, like /" +
                               std::string{params.get("ProductKey").value_or("pk")} +
                               "/deviceName/user/get.");
    if (ctx.services.devices.find(key) == nullptr)
        co_return business("iot.device.NotExistedDevice", "The device does not exist.");
    auto payload = payload_param(params, "MessageContent", ctx.limits.max_payload_bytes, 200);
    if (!payload) co_return payload.error();
    const auto qos = params.get("Qos").value_or("0");
    if (qos != "0" && qos != "1")
        co_return business("iot.messagebroker.InvalidQos", "Qos must be 0 or 1.");
    const auto id = ctx.services.router.next_id(key);
    if (qos == "1") {
        if (auto behind = store_behind(ctx)) co_return std::move(*behind);
        // Kept until the device acknowledges it, across restarts.
        switch (co_await ctx.services.router.publish(key, topic, std::move(*payload), true, id)) {
            case rrpc::router::published::taken: break;
            case rrpc::router::published::refused: co_return queue_full(200);
            case rrpc::router::published::unavailable: co_return gateway::service_unavailable();
        }
        if (co_await ctx.services.journal.sync()) co_return co_await not_kept(ctx, key, id);
    } else {
        // At most once, as on the cloud: nothing waits for a subscription.
        if (co_await ctx.services.router.publish(key, topic, std::move(*payload), false, id) ==
            rrpc::router::published::unavailable)
            co_return gateway::service_unavailable();
    }
    reply r;
    r.body["MessageId"] = std::to_string(id);
    co_return r;
}

}  // namespace rrpcd::http
