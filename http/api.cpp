#include "http/api.hpp"
#include "kit/logfmt.hpp"

#include "config/names.hpp"
#include "kit/logfmt.hpp"
#include "kit/printable.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/algorithm/string/trim.hpp>

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

/// The QPS limit of an action's class for a caller (0: unlimited or not limited).
std::uint32_t qps_of(const caller& who, qps_class c) {
    switch (c) {
        case qps_class::rrpc: return who.qps.rrpc;
        case qps_class::async_rrpc: return who.qps.async_rrpc;
        case qps_class::invoke_thing_service: return who.qps.invoke_thing_service;
        case qps_class::none: break;
    }
    return 0;
}

/// The AccessKeyId a request claims (verified or not): V3's Credential, V1's parameter, Basic's
/// user name. Empty when none.
std::string claimed_access_key(const api::request& req, const request_params& params) {
    const std::string_view auth = req[bhttp::field::authorization];
    if (const auto at = auth.find("Credential="); at != std::string_view::npos) {
        const auto id = auth.substr(at + 11);
        return std::string{id.substr(0, id.find_first_of(", "))};
    }
    if (const auto id = params.get("AccessKeyId")) return std::string{*id};
    return {};
}

/// The device a request names: ProductKey/DeviceName, or IotId; empty when none.
std::string device_of(const request_params& params) {
    if (const auto pk = params.get("ProductKey"), dn = params.get("DeviceName"); pk && dn)
        return std::string{*pk} + "/" + std::string{*dn};
    if (const auto id = params.get("IotId")) return std::string{*id};
    return {};
}

}  // namespace

api::api(api_limits limits, authenticator& auth, catalog::login_backoff& backoff,
         api_services services, std::shared_ptr<spdlog::logger> log)
    : limits_(limits), auth_(auth), backoff_(backoff), services_(services), log_(std::move(log)) {}

api_stats api::stats() const {
    const std::lock_guard lock{mutex_};
    return stats_;
}

void api::set_limits(const api_limits& limits) {
    const std::lock_guard lock{mutex_};
    limits_ = limits;
}

boost::system::result<caller, api_error> api::authorize(const request& req,
                                                        const asio::ip::address& from,
                                                        std::string_view scrape_token) {
    const std::string_view header = req[bhttp::field::authorization];
    const bool bearer = !scrape_token.empty() && header.starts_with("Bearer ");
    // The pair the back-off tracks: the address and the key it claims (any bearer is one).
    std::string claimed = bearer ? "bearer" : "basic " + basic_user(header);
    const catalog::login_backoff::who who{from, claimed};
    const auto now = catalog::login_backoff::clock::now();
    const auto refuse = [&](api_error e, std::string_view reason) {
        const auto before = [&] {
            const std::lock_guard lock{mutex_};
            ++stats_.auth_failures[e.code];
            return refusals_.allow(from.to_string(), std::chrono::steady_clock::now());
        }();
        if (before)
            log_->warn(
                "event=auth_refused scheme={} access_key={} peer={} reason={}{}",
                bearer ? "bearer" : "basic",
                kit::logfmt_value(bearer ? std::string_view{} : claimed.substr(6), 64),
                from.to_string(), reason,
                *before != 0 ? " suppressed_before=" + std::to_string(*before) : std::string{});
        return e;
    };
    if (backoff_.blocked(who, now))
        return refuse({429, "Throttling.Backoff",
                       "Too many failed attempts from this address: wait, then try again."},
                      "backoff");
    if (bearer) {
        if (is_scrape_token(header, scrape_token)) {
            backoff_.succeeded(who);
            return caller{"(scrape token)"};
        }
        backoff_.failed(who, now);
        return refuse({401, "Unauthorized", "The scrape token is not valid."}, "bad_token");
    }
    auto verified = auth_.verify_basic(req);
    if (!verified) {
        backoff_.failed(who, now);
        return refuse(verified.error(), header.empty() ? "missing" : "bad_credentials");
    }
    backoff_.succeeded(who);
    return verified;
}

asio::awaitable<response> api::handle(request req, std::string_view peer) {
    const auto request_id = new_request_id();
    const auto started = std::chrono::steady_clock::now();
    auto decoded = decode_request(req.target(), req[bhttp::field::host],
                                  req[bhttp::field::content_type], req.body());
    request_params params;
    std::string v1_key;              // the key that authorised a /v1/ request
    action_result result = reply{};  // every branch below sets it; an empty object costs nothing
    // Beast decodes chunked only: a body under any other coding would be read as if plain.
    const auto coding =
        boost::algorithm::trim_copy(std::string{req[bhttp::field::transfer_encoding]});
    const bool unsupported_coding =
        !coding.empty() && !boost::algorithm::iequals(coding, "chunked");
    if (unsupported_coding) {
        result = api_error{501, "NotImplemented",
                           "Transfer-Encoding \"" + kit::printable(coding, 64) +
                               "\" is not supported; send the body as it is, or chunked."};
    } else if (!decoded) {
        result = gateway::invalid_parameter(std::string{decoded.error()});
    } else if (decoded->path.starts_with("/v1/")) {
        result = co_await v1_call(req, decoded->path, peer, v1_key);
    } else {
        params = std::move(decoded->params);
        result = co_await dispatch(req, decoded->path, params);
    }

    exchange x;
    x.f = boost::algorithm::iequals(params.get("Format").value_or("JSON"), "XML") ? format::xml
                                                                                  : format::json;
    x.v1 = decoded && decoded->path.starts_with("/v1/");
    // A /v1/ request's access line names what it asked (its path, without the id) and the key
    // that authorised it, like any action's.
    const std::string_view v1_path =
        x.v1 ? std::string_view{decoded->path}.substr(0, 64) : std::string_view{};
    x.action = !x.v1 ? header_or_param(req, params, false, "Action", "x-acs-action")
               : v1_path.starts_with("/v1/calls/") ? std::string_view{"/v1/calls"}
                                                   : v1_path;
    x.access_key = x.v1 ? v1_key : claimed_access_key(req, params);
    x.peer = peer;
    x.host = req[bhttp::field::host];
    x.version = req.version();
    // After a body whose framing it could not read, the connection is not reused.
    x.keep_alive = req.keep_alive() && !unsupported_coding;
    const auto device = device_of(params);
    x.device = device;
    co_return respond(result, x, request_id, started);
}

asio::awaitable<response> api::invoke(const caller& who, request_params params,
                                      std::string_view peer, unsigned version) {
    const auto request_id = new_request_id();
    const auto started = std::chrono::steady_clock::now();
    const auto action = params.get("Action").value_or("");
    action_result result = gateway::missing_parameter("Action");
    if (!action.empty()) {
        auto ran = co_await run(who, action, params);  // named: GCC 12 and temporaries
        result = std::move(ran);
    }
    exchange x;
    x.action = action;
    x.access_key = who.access_key_id;
    x.peer = peer;
    x.version = version;
    const auto device = device_of(params);
    x.device = device;
    co_return respond(result, x, request_id, started);
}

response api::respond(action_result& result, const exchange& x, std::string_view request_id,
                      std::chrono::steady_clock::time_point started) {
    // The access line: every call (`[log] access`), and every refusal, at most 10 a minute per
    // peer address (then counted and said on the next line).
    const auto address = x.peer.substr(0, x.peer.rfind(':'));
    const std::string outcome = !result ? result.error().code
                                : result->body.contains("RrpcCode")
                                    ? std::string{result->body.at("RrpcCode").as_string()}
                                    : std::string{"Success"};
    const bool refused = !result && result.error().status != 200;
    const auto seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    // Labels from a bounded set: the table's action names, the project's codes.
    const auto* known = find_action(x.action);
    const std::string label = x.v1               ? std::string{"v1"}
                              : known != nullptr ? std::string{known->name}
                                                 : std::string{"unknown"};
    bool log_line = false;
    std::uint64_t before = 0;  // refusals left unsaid since the last line for this address
    {
        const std::lock_guard lock{mutex_};
        log_line = limits_.access_log || !result;
        if (refused) {
            const auto allowed = refusals_.allow(address, std::chrono::steady_clock::now());
            log_line = allowed.has_value();
            before = allowed.value_or(0);
        }
        stats_.latency[label].observe(seconds);
        ++stats_.calls[{label, outcome}];
    }
    if (log_line) {
        const auto ms = seconds * 1000;
        log_->info(
            "event=api_call action={} access_key={} peer={} device={} status={} outcome={} "
            "duration_ms={:.1f} request_id={}{}",
            kit::logfmt_value(x.action, 64), kit::logfmt_value(x.access_key, 64),
            kit::logfmt_value(x.peer, 64), kit::logfmt_value(x.device, 80),
            result ? 200u : result.error().status, kit::logfmt_value(outcome, 64), ms, request_id,
            before != 0 ? " suppressed_before=" + std::to_string(before) : std::string{});
    }
    if (!result) {
        const auto& e = result.error();
        auto res = make_response(e.status, error_body(e, request_id, x.host), x.f, "Error",
                                 x.version, x.keep_alive);
        if (e.retry_after_ms != 0) {
            // Darabonba SDKs classify a throttle by x-acs-retry-after; older ones by x-ratelimit-*.
            res.set("x-acs-retry-after", std::to_string(e.retry_after_ms));
            res.set("x-ratelimit-user-api", "TimeLeft:" + std::to_string(e.retry_after_ms));
        }
        if (e.status == 401) res.set(bhttp::field::www_authenticate, "Basic realm=\"rrpcd\"");
        return res;
    }
    auto& body = result->body;
    body["RequestId"] = request_id;
    body["Success"] = true;
    return make_response(200, body, x.f, std::string{x.action} + "Response", x.version,
                         x.keep_alive);
}

asio::awaitable<action_result> api::dispatch(const request& req, std::string_view path,
                                             const request_params& params) {
    if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::post)
        co_return api_error{405, "UnsupportedHTTPMethod", "Only GET and POST are supported."};
    const auto who = auth_.verify(req, path, params, std::chrono::system_clock::now());
    if (!who) {
        {
            const std::lock_guard lock{mutex_};
            ++stats_.auth_failures[who.error().code];
        }
        co_return who.error();
    }

    const auto action = header_or_param(req, params, who->v3, "Action", "x-acs-action");
    const auto version = header_or_param(req, params, who->v3, "Version", "x-acs-version");
    if (action.empty()) co_return gateway::missing_parameter("Action");
    if (version != api_version) co_return gateway::invalid_version();
    co_return co_await run(*who, action, params);
}

asio::awaitable<action_result> api::run(const caller& who, std::string_view action,
                                        const request_params& params) {
    const auto* found = find_action(action);
    if (found == nullptr) co_return gateway::invalid_action(std::string{action.substr(0, 64)});
    // One bucket per key and QPS class: InvokeThingService, its batch form and
    // SetDeviceProperty draw from the same `qps_invoke_thing_service`.
    api_limits limits;  // the action keeps the limits it started with
    bool allowed = false;
    {
        const std::lock_guard lock{mutex_};
        limits = limits_;
        allowed = limiter_.allow(who.access_key_id, std::to_string(static_cast<int>(found->qps)),
                                 qps_of(who, found->qps), rate_limiter::clock::now(),
                                 qps_cost(*found, params));
    }
    if (!allowed) co_return gateway::throttled();
    action_context ctx{services_, limits, *log_, who.access_key_id};
    co_return co_await found->handler(ctx, params);
}

}  // namespace rrpcd::http
