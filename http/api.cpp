#include "http/api.hpp"

#include "config/names.hpp"
#include "kit/printable.hpp"

#include <boost/algorithm/string/predicate.hpp>

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

/// The QPS limit of an action for a caller (0: unlimited or not limited).
std::uint32_t qps_of(const caller& who, std::string_view action) {
    if (action == "RRpc") return who.qps.rrpc;
    if (action == "AsyncRRpc") return who.qps.async_rrpc;
    if (action == "InvokeThingService") return who.qps.invoke_thing_service;
    return 0;
}

}  // namespace

api::api(api_limits limits, authenticator& auth, api_services services,
         std::shared_ptr<spdlog::logger> log)
    : limits_(limits), auth_(auth), services_(services), log_(std::move(log)) {}

asio::awaitable<response> api::handle(request req) {
    const auto request_id = new_request_id();
    auto decoded = decode_request(req.target(), req[bhttp::field::content_type], req.body());
    request_params params;
    action_result result = reply{};  // every branch below sets it; an empty object costs nothing
    if (!decoded) {
        result = gateway::invalid_parameter(std::string{decoded.error()});
    } else if (decoded->path.starts_with("/v1/")) {
        result = v1_call(req, decoded->path);
    } else {
        params = std::move(decoded->params);
        result = co_await dispatch(req, decoded->path, params);
    }

    const auto f = boost::algorithm::iequals(params.get("Format").value_or("JSON"), "XML")
                       ? format::xml
                       : format::json;
    const auto action = header_or_param(req, params, false, "Action", "x-acs-action");
    if (!result) {
        const auto& e = result.error();
        log_->log(e.status == 200 ? spdlog::level::debug : spdlog::level::info,
                  "event=api_error request_id={} action=\"{}\" status={} code={}", request_id,
                  kit::printable(action, 64), e.status, e.code);
        auto res = make_response(e.status, error_body(e, request_id, req[bhttp::field::host]), f,
                                 "Error", req.version(), req.keep_alive());
        if (e.retry_after_ms != 0) {
            // Darabonba SDKs classify a throttle by x-acs-retry-after; older ones by x-ratelimit-*.
            res.set("x-acs-retry-after", std::to_string(e.retry_after_ms));
            res.set("x-ratelimit-user-api", "TimeLeft:" + std::to_string(e.retry_after_ms));
        }
        if (e.status == 401) res.set(bhttp::field::www_authenticate, "Basic realm=\"rrpcd\"");
        co_return res;
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
    if (!limiter_.allow(who->access_key_id, action, qps_of(*who, action),
                        rate_limiter::clock::now()))
        co_return gateway::throttled();
    if (action == "RRpc") co_return co_await rrpc_action(params);
    if (action == "InvokeThingService") co_return co_await invoke_thing_service(params);
    if (action == "AsyncRRpc") co_return co_await async_rrpc_action(params);
    if (action == "Pub") co_return co_await pub_action(params);
    if (action == "CreateProduct") co_return co_await create_product(params);
    if (action == "QueryProduct") co_return query_product(params);
    if (action == "RegisterDevice") co_return co_await register_device(params);
    if (action == "QueryDeviceDetail") co_return query_device_detail(params);
    if (action == "GetDeviceStatus") co_return get_device_status(params);
    if (action == "BatchGetDeviceState") co_return batch_get_device_state(params);
    if (action == "QueryDevice") co_return query_device(params);
    if (action == "DeleteDevice") co_return co_await delete_device(params);
    if (action == "DisableThing") co_return co_await set_disabled(params, true);
    if (action == "EnableThing") co_return co_await set_disabled(params, false);
    if (action == "QueryMessageInfo") co_return query_message_info(params);
    co_return gateway::invalid_action(std::string{action.substr(0, 64)});
}

std::optional<api_error> api::too_many_pending(const catalog::device_key& device) {
    const auto waiting = services_.rrpc.pending_for(device);
    if (waiting < limits_.max_pending_per_device) return std::nullopt;
    if (services_.counters.hit(kit::limit::pending_calls_per_device))
        log_->warn("event=limit_hit limit=pending_calls_per_device pk={} dn={} pending={} count={}",
                   device.product_key, device.device_name, waiting,
                   services_.counters.count(kit::limit::pending_calls_per_device));
    return business("iot.messagebroker.RateLimit",
                    "The device already has " + std::to_string(waiting) +
                        " calls waiting for its reply; try again when they are answered.");
}

api::device_result api::find_device(const request_params& params, unsigned status,
                                    const char* not_existed, bool iot_id) const {
    if (const auto id = params.get("IotId"); iot_id && id && !id->empty()) {
        if (const auto* d = services_.devices.find_by_iot_id(*id)) return d;
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
    if (const auto* d = services_.devices.find({std::string{pk}, std::string{dn}})) return d;
    return api_error{status, not_existed, "The device does not exist."};
}

}  // namespace rrpcd::http
