#include "http/api.hpp"

#include "rrpc/base64.hpp"
#include "rrpc/printable.hpp"
#include "rrpc/topics.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/url/parse.hpp>

#include <charconv>

namespace rrpcd::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

/// The action's name as the signature scheme carries it: V3 headers, else the parameters.
std::string_view header_or_param(const api::request& req, const request_params& params, bool v3,
                                 std::string_view param, std::string_view header) {
    if (v3 || !params.get(param)) return req[header];
    return *params.get(param);
}

std::optional<std::int64_t> parse_int(std::string_view s) {
    std::int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

/// A required, non-empty parameter, or the business error `code`.
boost::system::result<std::string_view, api_error> required(const request_params& params,
                                                            std::string_view name, std::string code,
                                                            std::string message) {
    const auto v = params.get(name);
    if (!v || v->empty()) return business(std::move(code), std::move(message));
    return *v;
}

}  // namespace

api::api(api_limits limits, authenticator& auth, rrpc::service& rrpc,
         const rrpc::device_directory& devices, std::shared_ptr<spdlog::logger> log)
    : limits_(limits), auth_(auth), rrpc_(rrpc), devices_(devices), log_(std::move(log)) {}

asio::awaitable<response> api::handle(request req) {
    const auto request_id = new_request_id();
    const auto host = std::string{req[bhttp::field::host]};
    request_params params;
    std::string path = "/";
    action_result result = gateway::invalid_parameter("request-target");

    if (const auto target = boost::urls::parse_origin_form(req.target())) {
        const auto encoded_path = target->encoded_path();
        const auto encoded_query = target->encoded_query();
        path.assign(encoded_path.data(), encoded_path.size());
        auto query = parse_form(std::string_view{encoded_query.data(), encoded_query.size()});
        const bool form_body = boost::algorithm::istarts_with(req[bhttp::field::content_type],
                                                              "application/x-www-form-urlencoded");
        auto form = form_body ? parse_form(req.body()) : param_list{};
        if (!query)
            result = gateway::invalid_parameter("query string");
        else if (!form)
            result = gateway::invalid_parameter("form body");
        else {
            params.query = std::move(*query);
            params.form = std::move(*form);
            result = co_await dispatch(req, path, params);
        }
    }

    const auto f = boost::algorithm::iequals(params.get("Format").value_or("JSON"), "XML")
                       ? format::xml
                       : format::json;
    const auto action = header_or_param(req, params, false, "Action", "x-acs-action");
    if (!result) {
        const auto& e = result.error();
        log_->log(e.status == 200 ? spdlog::level::debug : spdlog::level::info,
                  "event=api_error request_id={} action={} status={} code={}", request_id,
                  rrpc::printable(action, 64), e.status, e.code);
        co_return make_response(e.status, error_body(e, request_id, host), f, "Error",
                                req.version(), req.keep_alive());
    }
    auto& body = result->body;
    body["RequestId"] = request_id;
    body["Success"] = true;
    co_return make_response(200, body, f, std::string{action} + "Response", req.version(),
                            req.keep_alive());
}

asio::awaitable<api::action_result> api::dispatch(const request& req, std::string_view path,
                                                  const request_params& params) {
    if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::post)
        co_return api_error{405, "UnsupportedHTTPMethod", "Only GET and POST are supported."};
    const auto who = auth_.verify(req, path, params, std::chrono::system_clock::now());
    if (!who) co_return who.error();

    const auto action = header_or_param(req, params, who->v3, "Action", "x-acs-action");
    const auto version = header_or_param(req, params, who->v3, "Version", "x-acs-version");
    if (action.empty()) co_return gateway::missing_parameter("Action");
    if (version != api_version) co_return gateway::invalid_version();
    if (action == "RRpc") co_return co_await rrpc_action(params);
    co_return gateway::invalid_action(std::string{action.substr(0, 64)});
}

asio::awaitable<api::action_result> api::rrpc_action(const request_params& params) {
    const auto pk =
        required(params, "ProductKey", "iot.prod.NullProductKey", "The productKey is empty.");
    if (!pk) co_return pk.error();
    const auto dn =
        required(params, "DeviceName", "iot.device.NullDeviceName", "The deviceName is empty.");
    if (!dn) co_return dn.error();
    const auto content =
        required(params, "RequestBase64Byte", "iot.messagebroker.NullMessageContent",
                 "The message content is empty.");
    if (!content) co_return content.error();
    auto payload = rrpc::base64_decode(*content);
    if (!payload)
        co_return business("iot.messagebroker.MessageContentIsNotBase64Encode",
                           "The message content is not base64 encoded.");
    const auto timeout_text = params.get("Timeout") ? params.get("Timeout") : params.get("TimeOut");
    const auto timeout = timeout_text ? parse_int(*timeout_text) : std::nullopt;
    if (!timeout || *timeout < limits_.timeout_min.count() ||
        *timeout > limits_.timeout_max.count())
        co_return business("iot.messagebroker.InvalidTimeoutValue",
                           "The timeout must be between " +
                               std::to_string(limits_.timeout_min.count()) + " and " +
                               std::to_string(limits_.timeout_max.count()) + " milliseconds.");

    rrpc::device_key device{std::string{*pk}, std::string{*dn}};
    const auto topic = std::string{params.get("Topic").value_or("")};
    if (!topic.empty() && !rrpc::is_valid_custom_rrpc_topic(device, topic))
        co_return business("iot.messagebroker.InvalidFormattedTopicName",
                           "The topic must be one of the device's own topics, like /" +
                               device.product_key + "/" + device.device_name + "/user/get.");
    if (payload->size() > limits_.max_payload_bytes)
        co_return business(
            "iot.messagebroker.MessageContentTooLarge",
            "The message is larger than " + std::to_string(limits_.max_payload_bytes) + " bytes.");
    if (devices_.find(device) == nullptr)
        co_return business("iot.device.NotExistedDevice", "The device does not exist.");

    // Named first: GCC 12 destroys a temporary argument inside a co_await expression twice.
    rrpc::call_request call{std::move(device), std::move(*payload), topic,
                            std::chrono::milliseconds{*timeout}};
    const auto outcome = co_await rrpc_.call(std::move(call));
    reply r;
    r.body["RrpcCode"] = rrpc::to_string(outcome.code);
    if (outcome.code == rrpc::rrpc_code::success)
        r.body["PayloadBase64Byte"] = rrpc::base64_encode(outcome.payload);
    r.body["MessageId"] = outcome.message_id;
    co_return r;
}

}  // namespace rrpcd::http
