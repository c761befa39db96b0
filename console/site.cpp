#include "console/site.hpp"

#include "console/assets.hpp"
#include "kit/logfmt.hpp"
#include "kit/parse_whole.hpp"
#include "kit/password.hpp"
#include "kit/unix_ms.hpp"

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/algorithm/string/predicate.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>

namespace rrpcd::console {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace json = boost::json;

namespace {

constexpr std::string_view prefix = "/console";
constexpr std::size_t max_body_params = 1000;
constexpr std::size_t max_page_size = 100;
constexpr std::size_t max_listed = 100;  ///< queued messages on a device's page

/// What every console answer carries: no caching, no framing, no sniffing, only its own
/// scripts and styles.
void secure(http::response& res) {
    res.set(bhttp::field::server, "rrpcd");
    res.set(bhttp::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("X-Frame-Options", "DENY");
    res.set("Referrer-Policy", "no-referrer");
    res.set("Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
}

http::response answer(unsigned status, std::string content_type, std::string body,
                      const site::request& req) {
    http::response res{static_cast<bhttp::status>(status), req.version()};
    secure(res);
    res.set(bhttp::field::content_type, content_type);
    res.body() = std::move(body);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

http::response json_answer(unsigned status, const json::value& body, const site::request& req) {
    return answer(status, "application/json; charset=utf-8", json::serialize(body), req);
}

/// The console's own errors: `{"Code", "Message"}` with their HTTP status.
http::response error(unsigned status, std::string_view code, std::string_view message,
                     const site::request& req) {
    return json_answer(status, json::object{{"Code", code}, {"Message", message}}, req);
}

/// What the page learns of its session: who, the role, the CSRF token, when it ends.
json::object session_body(const session& s) {
    return {{"accessKeyId", s.access_key_id.empty() ? json::value{} : json::value(s.access_key_id)},
            {"user", s.user.empty() ? json::value{} : json::value(s.user)},
            {"role", s.role == role::viewer ? "viewer" : "operator"},
            {"csrfToken", s.csrf},
            {"expiresAt", s.expires_ms}};
}

std::string_view status_of(const catalog::device_record& r, bool online) {
    if (r.disabled) return "DISABLE";
    if (online) return "ONLINE";
    if (r.active_ms == 0) return "UNACTIVE";
    return "OFFLINE";
}

json::value ms_or_null(std::int64_t ms) {
    return ms == 0 ? json::value{} : json::value(ms);
}

std::int64_t ms_of(rrpc::call_record::clock::time_point t) {
    return t == rrpc::call_record::clock::time_point{} ? 0 : kit::unix_ms(t);
}

/// One call, as `GET /v1/calls/{id}` has it (its MessageId as a string: JavaScript's numbers
/// hold 53 bits), with its timeline.
json::object describe_call(const rrpc::call_record& r) {
    auto o = http::describe(r);
    o["MessageId"] = std::to_string(r.message_id);
    json::array timeline;
    timeline.push_back(json::object{{"step", "received"}, {"at", ms_of(r.created)}});
    if (r.published != rrpc::call_record::clock::time_point{})
        timeline.push_back(
            json::object{{"step", "published"}, {"at", ms_of(r.published)}, {"topic", r.topic}});
    if (r.acked != rrpc::call_record::clock::time_point{})
        timeline.push_back(
            json::object{{"step", "device acknowledged (PUBACK)"}, {"at", ms_of(r.acked)}});
    if (r.state == rrpc::call_state::replied)
        timeline.push_back(json::object{
            {"step", "device answered"}, {"at", ms_of(r.finished)}, {"topic", r.reply_topic}});
    if (r.state != rrpc::call_state::pending)
        timeline.push_back(json::object{{"step", "answered"},
                                        {"at", ms_of(r.finished)},
                                        {"outcome", rrpc::to_string(r.state)}});
    o["Timeline"] = std::move(timeline);
    return o;
}

}  // namespace

std::string waiting_for(const rrpc::call_record& call, const device_live& device) {
    using clock = rrpc::call_record::clock;
    const auto queued =
        std::ranges::find(device.queued, call.message_id, &queued_summary::message_id);
    if (queued != device.queued.end()) {
        if (queued->sent) return "the device's PUBACK of the message on " + queued->topic;
        if (!device.online) return "the device to log in (its QoS 1 message is queued)";
        return "the device to subscribe to " + queued->topic +
               " (a queued message goes once the device subscribes to its topic, or once its "
               "session has settled)";
    }
    if (call.published == clock::time_point{}) {
        if (!device.online) return "the device to log in";
        if (device.queued_total > device.queued.size())
            return "its turn in the device's queue (" + std::to_string(device.queued_total) +
                   " messages)";
        return "its device's session to send it";
    }
    const bool sync =
        call.kind == rrpc::call_kind::rrpc || call.kind == rrpc::call_kind::thing_sync;
    return "the device's answer" +
           (sync ? std::string{" (until the call's timeout)"}
                 : " on " + call.topic + "_reply, or the answer's retention") +
           (device.online ? "" : "; the device is offline");
}

namespace {

/// At most the first 48 bytes of a payload, as text when they are printable ASCII, else as hex
/// (`0x…`): what a list shows (the whole payload is on the call's own page).
std::string preview(std::string_view bytes) {
    constexpr std::size_t text_max = 48, hex_max = 24;
    const auto head = bytes.substr(0, text_max);
    const bool text = std::ranges::all_of(head, [](char c) {
        return (c >= 0x20 && c < 0x7F) || c == '\n' || c == '\r' || c == '\t';
    });
    if (text) return std::string{head} + (bytes.size() > text_max ? "…" : "");
    static constexpr char digits[] = "0123456789abcdef";
    std::string out = "0x";
    for (const char c : bytes.substr(0, hex_max)) {
        const auto b = static_cast<unsigned char>(c);
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out + (bytes.size() > hex_max ? "…" : "");
}

/// One call as a list shows it: what and when, sizes and previews, never whole payloads.
json::object summarize_call(const rrpc::call_record& r) {
    json::object o{{"MessageId", std::to_string(r.message_id)},
                   {"Kind", rrpc::to_string(r.kind)},
                   {"Status", rrpc::to_string(r.state)},
                   {"ProductKey", r.device.product_key},
                   {"DeviceName", r.device.device_name},
                   {"Topic", r.topic},
                   {"CreatedAt", ms_of(r.created)},
                   {"RequestBytes", r.request.size()},
                   {"RequestPreview", preview(r.request)}};
    if (!r.identifier.empty()) o["Identifier"] = r.identifier;
    if (r.published != rrpc::call_record::clock::time_point{})
        o["PublishedAt"] = ms_of(r.published);
    if (r.state != rrpc::call_state::pending) o["FinishedAt"] = ms_of(r.finished);
    if (r.state == rrpc::call_state::replied) {
        o["ReplyBytes"] = r.reply.size();
        o["ReplyPreview"] = preview(r.reply);
    }
    return o;
}

/// A query's decoded parameters (Boost.URL); nullopt when the target is not valid.
std::optional<site::query> query_of(std::string_view target) {
    const auto u = boost::urls::parse_origin_form(target);
    if (!u) return std::nullopt;
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& p : u->params()) out.emplace_back(p.key, p.value);
    return out;
}

std::string_view param(const site::query& q, std::string_view name) {
    const auto it = std::ranges::find(q, name, &std::pair<std::string, std::string>::first);
    return it == q.end() ? std::string_view{} : std::string_view{it->second};
}

/// A request body's JSON object as API parameters: strings as they are, anything else as its
/// JSON text (`Args` may be given as an object).
boost::system::result<http::request_params, std::string> params_of(std::string_view body) {
    boost::system::error_code ec;
    const auto v = json::parse(body, ec);
    if (ec || !v.is_object()) return std::string{"the body must be a JSON object"};
    if (v.as_object().size() > max_body_params)
        return "at most " + std::to_string(max_body_params) + " parameters";
    http::request_params params;
    for (const auto& [k, value] : v.as_object()) {
        if (value.is_null()) continue;
        params.form.emplace_back(std::string{k}, value.is_string() ? std::string{value.as_string()}
                                                                   : json::serialize(value));
    }
    return params;
}

}  // namespace

site::site(const config::settings_ptr& settings, http::api& api,
           const catalog::device_directory& devices, rrpc::call_log& calls, live_view& live,
           catalog::login_backoff& backoff, std::shared_ptr<spdlog::logger> log)
    : settings_(settings),
      api_(api),
      devices_(devices),
      calls_(calls),
      live_(live),
      backoff_(backoff),
      log_(std::move(log)),
      sessions_(settings) {}

bool site::is_console(std::string_view target) noexcept {
    return target.starts_with(prefix) &&
           (target.size() == prefix.size() || target[prefix.size()] == '/' ||
            target[prefix.size()] == '?');
}

bool site::is_event_stream(const request& req) noexcept {
    const std::string_view t = req.target();
    constexpr std::string_view events = "/console/api/events";
    return req.method() == bhttp::verb::get && t.starts_with(events) &&
           (t.size() == events.size() || t[events.size()] == '?');
}

std::optional<std::uint64_t> site::replay_from(const request& req) {
    if (const auto header = kit::parse_whole<std::uint64_t>(std::string_view{req["Last-Event-ID"]}))
        return header;
    const auto q = query_of(req.target());
    return q ? kit::parse_whole<std::uint64_t>(param(*q, "since")) : std::nullopt;
}

const session* site::signed_in(std::string_view cookie_header) {
    const auto token = cookie_value(cookie_header, cookie_name);
    if (!token) return nullptr;
    const auto* s = sessions_.find(*token, session_table::clock::now());
    if (s == nullptr) return nullptr;
    // A session ends with its access key, or its user's entry (removed, or another role).
    const auto& users = settings_->console.users;
    const bool still = !s->access_key_id.empty()
                           ? api_.keys().caller_of(s->access_key_id).has_value()
                           : std::ranges::any_of(users, [&](const config::console_user& u) {
                                 return u.name == s->user && u.role == s->role;
                             });
    if (!still) {
        sessions_.close(*token);
        return nullptr;
    }
    return s;
}

http::response site::refused(const request& req) const {
    return error(401, "Console.SignInRequired", "Sign in first.", req);
}

asio::awaitable<http::response> site::handle(const request& req, std::string_view peer,
                                             const asio::ip::address& address, bool tls) {
    const std::string_view target = req.target();
    const auto path = target.substr(0, target.find('?'));
    if (path.starts_with("/console/api/")) {
        auto res = co_await api_call(req, path.substr(13), peer, address, tls);
        co_return res;
    }
    if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head)
        co_return error(405, "Console.MethodNotAllowed", "The pages are read with GET.", req);
    if (path == prefix) {
        auto res = answer(301, "text/plain; charset=utf-8", "/console/\n", req);
        res.set(bhttp::field::location, "/console/");
        co_return res;
    }
    auto file = path.substr(prefix.size() + 1);
    if (file.empty()) file = "index.html";
    const auto* a = find_asset(file);
    if (a == nullptr) co_return answer(404, "text/plain; charset=utf-8", "not found\n", req);
    auto res = answer(200, std::string{content_type_of(a->path)}, std::string{a->body}, req);
    if (req.method() == bhttp::verb::head) res.body().clear();
    co_return res;
}

asio::awaitable<http::response> site::sign_in(const request& req, std::string_view peer,
                                              const asio::ip::address& address, bool tls) {
    boost::system::error_code ec;
    const auto body = json::parse(req.body(), ec);
    const auto* o = !ec ? body.if_object() : nullptr;
    const auto text = [&](std::string_view name) -> const json::string* {
        const auto* v = o != nullptr ? o->if_contains(name) : nullptr;
        return v != nullptr ? v->if_string() : nullptr;
    };
    const auto* key_id = text("accessKeyId");
    const auto* secret = text("accessKeySecret");
    const auto* user = text("user");
    const auto* password = text("password");
    if (!((key_id != nullptr && secret != nullptr) || (user != nullptr && password != nullptr)))
        co_return error(400, "Console.InvalidSignIn",
                        "Send {\"user\": \"…\", \"password\": \"…\"} or {\"accessKeyId\": \"…\", "
                        "\"accessKeySecret\": \"…\"}.",
                        req);
    const bool by_key = key_id != nullptr && secret != nullptr;
    const std::string name{by_key ? std::string_view{*key_id} : std::string_view{*user}};
    const auto who_text = (by_key ? "access_key=" : "user=") + kit::logfmt_value(name, 64);
    // The same back-off as device logins, by address and name: guessing gets slower.
    const catalog::login_backoff::who who{address, (by_key ? "console " : "console user ") + name};
    const auto now = catalog::login_backoff::clock::now();
    const auto say = [&](std::string_view reason) {
        if (const auto before = refusals_.allow(address.to_string(), now))
            log_->warn(
                "event=console_sign_in_refused {} peer={} reason={}{}", who_text,
                kit::logfmt_value(peer, 64), reason,
                *before != 0 ? " suppressed_before=" + std::to_string(*before) : std::string{});
    };
    if (backoff_.blocked(who, now)) {
        say("backoff");
        co_return error(429, "Console.SignInBackoff",
                        "Too many failed sign-ins from this address: wait, then try again.", req);
    }
    std::optional<signed_in_as> as;
    if (by_key) {
        if (api_.keys().verify_secret(name, *secret)) as = signed_in_as{name, {}, role::operator_};
    } else {
        // scrypt costs a tenth of a second and 32 MiB: on a thread of its own, a few at a time
        // (the rest are told to come back), never on the node's strand.
        if (verifying_ >= max_verifying) {
            say("busy");
            auto res = error(503, "Console.SignInBusy",
                             "Too many sign-ins are being checked: try again in a second.", req);
            res.set(bhttp::field::retry_after, "1");
            co_return res;
        }
        const auto find_user = [&] {  // in the snapshot in force now (a reload may swap it)
            const auto& users = settings_->console.users;
            const auto it = std::ranges::find(users, name, &config::console_user::name);
            return it != users.end() ? std::optional{*it} : std::nullopt;
        };
        const auto found = find_user();
        // An unknown name costs the same as a known one: the answer's time does not tell.
        auto hash =
            kit::parse_password_hash(found ? found->password_hash : std::string{unknown_user_hash});
        auto check = [hash = std::move(hash),
                      pw = std::string{*password}]() -> asio::awaitable<bool> {
            co_return hash.has_value() && kit::verify_password(pw, *hash);
        };
        ++verifying_;
        const bool ok = co_await asio::co_spawn(verifier_, std::move(check), asio::use_awaitable);
        --verifying_;
        // A reload may have changed the entry while it was checked: the same hash must still be
        // there, and the role is the one in force now.
        const auto now_found = find_user();
        if (ok && found && now_found && now_found->password_hash == found->password_hash)
            as = signed_in_as{{}, name, now_found->role};
    }
    if (!as) {
        backoff_.failed(who, now);
        say("bad_credentials");
        co_return error(401, "Console.SignInRefused",
                        by_key ? "The access key or its secret is not valid."
                               : "The user name or its password is not valid.",
                        req);
    }
    backoff_.succeeded(who);
    auto opened = sessions_.open(std::move(*as), session_table::clock::now(), kit::unix_ms());
    log_->info("event=console_sign_in {} role={} peer={} sessions={}", who_text,
               opened.s.role == role::viewer ? "viewer" : "operator", kit::logfmt_value(peer, 64),
               sessions_.size());
    auto res = json_answer(200, session_body(opened.s), req);
    res.set(bhttp::field::set_cookie,
            session_cookie(opened.token, settings_->console.session_ttl, tls));
    co_return res;
}

asio::awaitable<http::response> site::api_call(const request& req, std::string_view path,
                                               std::string_view peer,
                                               const asio::ip::address& address, bool tls) {
    const auto method = req.method();
    if (method != bhttp::verb::get && method != bhttp::verb::post && method != bhttp::verb::delete_)
        co_return error(405, "Console.MethodNotAllowed", "GET, POST or DELETE.", req);
    if (path == "session" && method == bhttp::verb::post) {
        // A page of another origin must not sign a browser in (login CSRF): when the browser
        // says where the request comes from, it must be this server. On the plain listener
        // the page may have been https (a proxy in front terminates TLS); on the TLS one it was.
        const std::string_view origin = req[bhttp::field::origin];
        const std::string host{req[bhttp::field::host]};
        const bool ours = origin == "https://" + host || (!tls && origin == "http://" + host);
        if (!origin.empty() && !ours)
            co_return error(403, "Console.CrossOrigin", "Sign in from the console's own page.",
                            req);
        auto res = co_await sign_in(req, peer, address, tls);
        co_return res;
    }
    const auto* s = signed_in(req[bhttp::field::cookie]);
    if (s == nullptr) co_return refused(req);
    if (method != bhttp::verb::get && !csrf_matches(*s, req["X-CSRF-Token"]))
        co_return error(403, "Console.CsrfRefused",
                        "A state-changing request needs the session's X-CSRF-Token header.", req);
    const auto decoded = query_of(req.target());
    if (!decoded)
        co_return error(400, "Console.InvalidTarget", "The request-target is not valid.", req);

    if (path == "session") {
        if (method == bhttp::verb::delete_) {
            sessions_.close(*cookie_value(req[bhttp::field::cookie], cookie_name));
            log_->info("event=console_sign_out peer={}", kit::logfmt_value(peer, 64));
            auto res = json_answer(200, json::object{{"signedOut", true}}, req);
            res.set(bhttp::field::set_cookie, cleared_cookie(tls));
            co_return res;
        }
        co_return json_answer(200, session_body(*s), req);
    }
    if (path == "action") {
        if (method != bhttp::verb::post)
            co_return error(405, "Console.MethodNotAllowed", "Actions are POSTed.", req);
        auto params = params_of(req.body());
        if (!params) co_return error(400, "Console.InvalidBody", params.error(), req);
        const auto name = params->get("Action").value_or("");
        if (!may_run(s->role, name))
            co_return error(403, "Console.ViewerReadOnly",
                            "A viewer runs only the read-only actions whose answers carry no "
                            "secret; " +
                                std::string{name} + " needs the operator role.",
                            req);
        // An access key's session acts as that key; a console user as `console:{name}`, with
        // the default QPS limits.
        const auto who = s->access_key_id.empty()
                             ? std::optional{http::caller{"console:" + s->user, false, {}}}
                             : api_.keys().caller_of(s->access_key_id);
        if (!who) co_return refused(req);
        // The action table's own checks, limits, access line and cloud body, as for the SDKs.
        auto res = co_await api_.invoke(*who, std::move(*params), peer, req.version());
        secure(res);
        res.keep_alive(req.keep_alive());
        co_return res;
    }
    if (method != bhttp::verb::get)
        co_return error(405, "Console.MethodNotAllowed", "This is read with GET.", req);

    auto read = co_await answer_read(path, *decoded);
    if (!read) co_return error(read.error().status, read.error().code, read.error().message, req);
    co_return answer(200, "application/json; charset=utf-8", json::serialize(*read), req);
}

asio::awaitable<boost::system::result<json::value, http::api_error>> site::answer_read(
    std::string_view path, const query& q) {
    using result = boost::system::result<json::value, http::api_error>;
    const auto number = [&](std::string_view name, std::size_t fallback) {
        return kit::parse_whole<std::size_t>(param(q, name)).value_or(fallback);
    };
    // Each awaited value named first: GCC 12 mishandles a temporary built inside a co_await
    // expression.
    if (path == "overview") {
        auto o = co_await overview();
        co_return result{json::value(std::move(o))};
    }
    if (path == "devices") {
        device_query wanted;
        wanted.size = std::clamp<std::size_t>(number("size", 20), 1, max_page_size);
        wanted.prefix = param(q, "q");
        wanted.status = param(q, "status");
        wanted.product_key = param(q, "productKey");
        if (const auto after = param(q, "after"); !after.empty()) {
            const auto slash = after.find('/');
            if (slash == std::string_view::npos)
                co_return http::api_error{400, "Console.InvalidCursor",
                                          "after is a ProductKey/DeviceName."};
            wanted.after = {std::string{after.substr(0, slash)},
                            std::string{after.substr(slash + 1)}};
        }
        auto page = co_await devices_page(wanted);
        co_return result{json::value(std::move(page))};
    }
    const auto limit = std::clamp<std::size_t>(number("limit", 50), 1, max_page_size);
    const catalog::device_key key{std::string{param(q, "productKey")},
                                  std::string{param(q, "deviceName")}};
    if (path == "calls") {
        const auto before = kit::parse_whole<std::uint64_t>(param(q, "before")).value_or(0);
        if (key.product_key.empty())
            co_return result{json::value(
                calls_page(nullptr, param(q, "kind"), param(q, "status"), before, limit))};
        if (devices_.find(key) == nullptr)
            co_return http::api_error{404, "Console.DeviceNotFound", "No such device."};
        co_return result{
            json::value(calls_page(&key, param(q, "kind"), param(q, "status"), before, limit))};
    }
    if (path == "device") {
        const auto r = devices_.find(key);
        if (r == nullptr)
            co_return http::api_error{404, "Console.DeviceNotFound", "No such device."};
        auto calls = calls_page(&key, {}, {}, 0, limit);
        auto listed = std::move(calls["calls"].as_array());
        auto page = co_await device_page(*r, std::move(listed));
        co_return result{json::value(std::move(page))};
    }
    if (path == "call") {
        // The call's whole record, payloads included: from memory, or from the store.
        const auto id = kit::parse_whole<std::uint64_t>(param(q, "id"));
        const auto r = id ? calls_.lookup(*id) : std::nullopt;
        if (!r)
            co_return http::api_error{
                404, "Console.CallNotFound",
                "No call with this MessageId is kept (a number of up to 20 digits)."};
        auto described = describe_call(*r);
        if (r->state == rrpc::call_state::pending) {
            std::vector<catalog::device_key> keys{r->device};  // named: GCC 12 and temporaries
            auto links = co_await live_.devices(std::move(keys), max_listed);
            described["WaitingFor"] = waiting_for(*r, links.at(0));
        }
        co_return result{json::value(std::move(described))};
    }
    co_return http::api_error{404, "Console.NotFound", "No such console endpoint."};
}

json::object site::device_row(const catalog::device_record& r, const device_live& live) const {
    const bool online = live.online;
    const auto& link = live.session;
    const auto product = devices_.find_product(r.key.product_key);
    return {{"productKey", r.key.product_key},
            {"deviceName", r.key.device_name},
            {"iotId", r.iot_id},
            {"nickname", r.nickname},
            {"status", status_of(r, online)},
            {"productName", product != nullptr ? product->name : std::string{}},
            {"lastLogin", link ? ms_or_null(link->connected_ms) : json::value{}},
            {"address", link ? json::value(link->peer) : json::value{}},
            {"keepAlive", link ? json::value(link->keep_alive.count()) : json::value{}},
            {"ss", link && link->server_subscribe},
            {"ext", link && link->ext},
            {"clean", link ? json::value(link->clean) : json::value{}}};
}

asio::awaitable<json::object> site::devices_page(const device_query& wanted) {
    // The directory's index in key order, from the cursor on: a page costs its rows and at
    // most `scan` records looked at, never a pass over every device.
    constexpr std::size_t scan = 5000;
    std::vector<catalog::device_ref> candidates;  // up to one past what may be looked at
    // By IotId (exact), or device names starting with the prefix (in one product, or in each).
    if (auto by_id = wanted.prefix.empty() ? nullptr : devices_.find_by_iot_id(wanted.prefix);
        by_id != nullptr && wanted.after.product_key.empty()) {
        if (wanted.product_key.empty() || by_id->key.product_key == wanted.product_key)
            candidates.push_back(std::move(by_id));
    } else {
        const auto products = wanted.product_key.empty()
                                  ? devices_.products()
                                  : std::vector<std::string>{std::string{wanted.product_key}};
        for (const auto& pk : products) {
            if (!wanted.after.product_key.empty() && pk < wanted.after.product_key) continue;
            auto part =
                devices_.range(pk, wanted.prefix, wanted.after, scan + 1 - candidates.size());
            candidates.insert(candidates.end(), std::make_move_iterator(part.begin()),
                              std::make_move_iterator(part.end()));
            if (candidates.size() > scan) break;
        }
    }
    // Their links, read on their planes a chunk at a time (one message per plane per chunk, not
    // one per device), only as far as the page needs: a filter that matches early looks at few.
    const std::size_t chunk = std::max<std::size_t>(wanted.size, 32);
    std::vector<console::device_live> lives;
    const auto live_of = [&](std::size_t i) -> asio::awaitable<const console::device_live*> {
        while (lives.size() <= i) {
            std::vector<catalog::device_key> keys;
            for (auto j = lives.size(); j < candidates.size() && keys.size() < chunk; ++j)
                keys.push_back(candidates[j]->key);
            if (keys.empty()) co_return nullptr;
            auto more = co_await live_.devices(std::move(keys), 0);
            lives.insert(lives.end(), std::make_move_iterator(more.begin()),
                         std::make_move_iterator(more.end()));
        }
        co_return &lives[i];
    };
    json::array rows;
    std::optional<catalog::device_key> next;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        if (rows.size() == wanted.size || i == scan) {
            next = candidates[i - 1]->key;  // the next page starts after the last looked at
            break;
        }
        const auto* live = co_await live_of(i);
        if (live == nullptr) break;
        if (wanted.status.empty() || wanted.status == status_of(*candidates[i], live->online))
            rows.push_back(device_row(*candidates[i], *live));
    }
    // A total only where it costs nothing: the whole list, or the devices online.
    const auto now = co_await live_.now();
    json::value total;
    if (wanted.prefix.empty() && wanted.product_key.empty()) {
        if (wanted.status.empty()) total = devices_.size();
        if (wanted.status == "ONLINE") total = now.online;
    }
    co_return json::object{
        {"total", total},
        {"size", wanted.size},
        {"devices", std::move(rows)},
        {"next", next ? json::value(next->product_key + "/" + next->device_name) : json::value{}},
        {"presenceChanges", now.presence_changes}};
}

asio::awaitable<json::object> site::device_page(const catalog::device_record& r,
                                                json::array calls) {
    std::vector<catalog::device_key> one{r.key};
    const auto lives = co_await live_.devices(std::move(one), max_listed);
    const auto& live = lives.at(0);
    auto o = device_row(r, live);
    o["created"] = ms_or_null(r.created_ms);
    o["firstLogin"] = ms_or_null(r.active_ms);
    json::array subscriptions, queued;
    if (live.session && live.online)
        for (const auto& [filter, qos] : live.session->subscriptions)
            subscriptions.push_back(
                json::object{{"filter", filter}, {"qos", static_cast<int>(qos)}});
    // The oldest ones: a full queue holds mqtt.max_queued_messages, its total is said.
    for (const auto& m : live.queued)
        queued.push_back(json::object{{"messageId", std::to_string(m.message_id)},
                                      {"topic", m.topic},
                                      {"bytes", m.bytes},
                                      {"sent", m.sent}});
    o["subscriptions"] = std::move(subscriptions);
    o["queued"] = std::move(queued);
    o["queuedTotal"] = live.queued_total;
    o["calls"] = std::move(calls);
    co_return o;
}

json::object site::calls_page(const catalog::device_key* of, std::string_view kind,
                              std::string_view status, std::uint64_t before,
                              std::size_t limit) const {
    // Newest first from the cursor, looking at a bounded number of calls per request: a filter
    // that matches little answers with what it found and where to go on (`next`).
    json::array out;
    const auto page = calls_.recent(
        limit,
        [&](const rrpc::call_record& c) {
            return (of == nullptr || c.device == *of) &&
                   (kind.empty() || rrpc::to_string(c.kind) == kind) &&
                   (status.empty() || rrpc::to_string(c.state) == status);
        },
        [&](const rrpc::call_record& c) { out.push_back(summarize_call(c)); }, before);
    return {{"calls", std::move(out)},
            {"next", page.next != 0 ? json::value(std::to_string(page.next)) : json::value{}}};
}

std::optional<std::string> site::calls_event(std::uint64_t& seen) const {
    // What started or ended since this stream's last tick, newest first, at most a page: the
    // Calls page updates from it instead of reading its list again.
    json::array out;
    const auto changed = calls_.changed_since(
        seen, max_page_size, [&](const rrpc::call_record& c) { out.push_back(summarize_call(c)); });
    if (changed.seq == seen) return std::nullopt;
    seen = changed.seq;
    return "event: calls\ndata: " +
           json::serialize(
               json::object{{"calls", std::move(out)}, {"truncated", changed.truncated}}) +
           "\n\n";
}

void site::sample() {
    outcome_counts totals{};
    for (const auto& by_state : calls_.ended()) {
        totals[0] += by_state[static_cast<std::size_t>(rrpc::call_state::replied)];
        totals[1] += by_state[static_cast<std::size_t>(rrpc::call_state::timeout)];
        totals[2] += by_state[static_cast<std::size_t>(rrpc::call_state::offline)];
        totals[3] += by_state[static_cast<std::size_t>(rrpc::call_state::halfconn)];
        totals[4] += by_state[static_cast<std::size_t>(rrpc::call_state::unknown)];
    }
    rates_.sample(call_rates::clock::now(), totals);
}

asio::awaitable<std::optional<std::string>> site::stream_tick(std::string_view cookie_header,
                                                              std::uint64_t& seen) {
    if (signed_in(cookie_header) == nullptr) co_return std::nullopt;
    const auto o = co_await overview();
    auto out = "event: overview\ndata: " + json::serialize(o) + "\n\n";
    if (auto calls = calls_event(seen)) out += *calls;
    co_return out;
}

asio::awaitable<json::object> site::overview() {
    const auto f = co_await live_.now();
    const auto steady = call_rates::clock::now();
    const auto unix_now = kit::unix_ms();
    json::array rates;
    for (const auto& b : rates_.buckets())
        rates.push_back(json::object{
            {"t",
             unix_now -
                 std::chrono::duration_cast<std::chrono::milliseconds>(steady - b.start).count()},
            {"SUCCESS", b.ended[0]},
            {"TIMEOUT", b.ended[1]},
            {"OFFLINE", b.ended[2]},
            {"HALFCONN", b.ended[3]},
            {"UNKNOWN", b.ended[4]}});
    std::uint64_t started = 0;
    for (const auto n : calls_.started()) started += n;
    co_return json::object{{"online", f.online},
                           {"total", devices_.size()},
                           {"pending", f.pending},
                           {"presenceChanges", f.presence_changes},
                           {"store", f.store},
                           {"startedAt", f.started_ms},
                           {"now", unix_now},
                           {"callsStarted", started},
                           {"bucketSeconds", call_rates::width.count()},
                           {"rates", std::move(rates)}};
}

}  // namespace rrpcd::console
