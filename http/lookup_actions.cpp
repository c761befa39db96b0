// Call outcomes by MessageId: QueryMessageInfo (cloud-compatible) and GET /v1/calls/{id}.
#include "http/actions.hpp"
#include "http/api.hpp"
#include "kit/unix_ms.hpp"

#include "kit/base64.hpp"
#include "kit/parse_whole.hpp"

#include <boost/json.hpp>

namespace rrpcd::http {

namespace asio = boost::asio;
namespace json = boost::json;
namespace bhttp = boost::beast::http;

namespace {

// Made outside the coroutines (GCC 12 and temporaries from string literals in them).
api_error no_resource() {
    return gateway::not_found("The resource");
}

api_error no_call() {
    return gateway::not_found("The call");
}

}  // namespace

json::object describe(const rrpc::call_record& record) {
    json::object o;
    o["MessageId"] = record.message_id;
    o["Kind"] = rrpc::to_string(record.kind);
    o["Status"] = rrpc::to_string(record.state);
    o["ProductKey"] = record.device.product_key;
    o["DeviceName"] = record.device.device_name;
    o["Topic"] = record.topic;
    if (!record.identifier.empty()) o["Identifier"] = record.identifier;
    o["RequestBase64Byte"] = kit::base64_encode(record.request);
    o["CreatedAt"] = kit::unix_ms(record.created);
    if (record.published != rrpc::call_record::clock::time_point{})
        o["PublishedAt"] = kit::unix_ms(record.published);
    if (record.state != rrpc::call_state::pending) o["FinishedAt"] = kit::unix_ms(record.finished);
    if (record.state == rrpc::call_state::replied) {
        o["ReplyTopic"] = record.reply_topic;
        o["PayloadBase64Byte"] = kit::base64_encode(record.reply);
    }
    return o;
}

asio::awaitable<action_result> query_message_info(action_context& ctx,
                                                  const request_params& params) {
    const auto id = kit::parse_whole<std::uint64_t>(params.get("UniMsgId").value_or(""));
    // From memory, or past its cache from the store (an async call's outcome).
    // Not a conditional expression around co_await: GCC 12 miscompiles one.
    std::optional<rrpc::call_record> record;
    if (id) record = co_await ctx.services.calls.lookup_anywhere(*id);
    if (!record)
        co_return business("iot.messagebroker.MessageNotExist",
                           "No message with this UniMsgId is kept.");
    json::object message;
    message["UniMsgId"] = std::to_string(record->message_id);
    message["GenerateTime"] = kit::unix_ms(record->created);
    message["TopicFullName"] = record->topic;
    message["MessageContent"] = kit::base64_encode(record->request);
    message["TransformedTopicFullName"] = record->topic;
    message["TransformedMessageContent"] = kit::base64_encode(record->request);
    message["UserProperties"] = json::array{};
    message["MqttProperties"] = json::array{};
    message["Call"] = describe(*record);  // rrpcd: the outcome and the device's answer
    reply r;
    r.body["Message"] = std::move(message);
    co_return r;
}

asio::awaitable<action_result> api::v1_call(const request& req, std::string_view path,
                                            std::string_view peer, std::string& access_key) {
    boost::system::error_code ec;
    const auto from = asio::ip::make_address(peer.substr(0, peer.rfind(':')), ec);
    const auto who = authorize(req, ec ? asio::ip::address{} : from);
    if (!who) co_return who.error();
    access_key = who->access_key_id;
    constexpr std::string_view prefix = "/v1/calls/";
    if (req.method() != bhttp::verb::get || !path.starts_with(prefix)) co_return no_resource();
    const auto id = kit::parse_whole<std::uint64_t>(path.substr(prefix.size()));
    std::optional<rrpc::call_record> record;
    if (id) record = co_await services_.calls.lookup_anywhere(*id);
    if (!record) co_return no_call();
    co_return reply{describe(*record)};
}

}  // namespace rrpcd::http
