#include "server/http_session.hpp"
#include "kit/logfmt.hpp"
#include "kit/parse_whole.hpp"
#include "kit/text_queue.hpp"
#include "kit/use_nothrow.hpp"
#include "server/http_read.hpp"

#include "http/render.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <deque>
#include <optional>
#include <sstream>
#include <tuple>

namespace rrpcd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

std::string sse_frame(const rrpc::async_reply& reply) {
    return "id: " + std::to_string(reply.message_id) +
           "\nevent: reply\ndata: " + http::forwarding_json(reply) + "\n\n";
}

std::shared_ptr<const std::string> sse_frames::of(const rrpc::async_reply& reply) {
    // The hub hands one reply to every stream in turn: the first renders it, the others share.
    const std::lock_guard lock{mutex_};
    if (auto last = last_.lock(); last && message_id_ == reply.message_id) return last;
    auto frame = std::make_shared<const std::string>(sse_frame(reply));
    message_id_ = reply.message_id;
    last_ = frame;
    return frame;
}

namespace {

constexpr std::chrono::seconds write_timeout{30};

using clock = std::chrono::steady_clock;

/// A cloud error body that ends the connection.
http::response cloud_error(const http::api_error& e, unsigned version) {
    return http::make_response(e.status, http::error_body(e, http::new_request_id(), ""),
                               http::format::json, "Error", version, false);
}

/// The cloud-shaped answer to a request that could not be parsed as HTTP (`header_limit`: the
/// configured bound of the request line and headers).
http::response malformed_response(const boost::system::error_code& ec, std::size_t header_limit) {
    http::api_error e{400, "BadRequest",
                      "The request is not valid HTTP/1.1: " + ec.message() + "."};
    if (ec == bhttp::error::header_limit)
        e = {431, "RequestHeaderFieldsTooLarge",
             "The request line or headers are too large (at most " + std::to_string(header_limit) +
                 " bytes in all, " + std::to_string(http::max_header_field_bytes) +
                 " in one field)."};
    if (ec == bhttp::error::body_limit)
        e = {413, "RequestEntityTooLarge", "The request body is too large."};
    return cloud_error(e, 11);
}

constexpr std::chrono::seconds stream_heartbeat{15};

/// A reply stream's query that asks for what does not exist.
http::response stream_query_refused(const std::string& why, unsigned version) {
    return cloud_error({400, "InvalidParameter", "The stream's query: " + why + "."}, version);
}

/// A GET of `path` (with or without a query). A prefix test, not a URL parse: this runs for
/// every request.
bool is_get(const http::api::request& req, std::string_view path) {
    const std::string_view target = req.target();
    return req.method() == bhttp::verb::get && target.starts_with(path) &&
           (target.size() == path.size() || target[path.size()] == '?');
}

/// Unsubscribes a stream from the hub on every way out.
struct hub_subscription {
    rrpc::reply_hub& hub;
    std::uint64_t token;
    hub_subscription(rrpc::reply_hub& h, std::uint64_t t) : hub(h), token(t) {}
    hub_subscription(const hub_subscription&) = delete;
    hub_subscription& operator=(const hub_subscription&) = delete;
    ~hub_subscription() { hub.unsubscribe(token); }
};
/// The same, from the uplink's other events.
struct uplink_subscription {
    uplink_service& uplink;
    std::uint64_t token;
    uplink_subscription(uplink_service& u, std::uint64_t t) : uplink(u), token(t) {}
    uplink_subscription(const uplink_subscription&) = delete;
    uplink_subscription& operator=(const uplink_subscription&) = delete;
    ~uplink_subscription() { uplink.unsubscribe(token); }
};

/// Streams async replies as Server-Sent Events until the client leaves: `id: <MessageId>`,
/// `event: reply`, `data: <forwarding JSON>`, and a comment line as heartbeat. A client that
/// falls behind by more than `max_queued` events or `max_queued_bytes` loses the oldest ones
/// (still in the call log for `GET /v1/calls/{id}`) and is told so by an `event: dropped` whose
/// data is `{"dropped":N}`, before the events that follow.
/// With `tick` (the console's stream), every second `tick()` is sent as an event of its own
/// instead of the heartbeat, and the stream ends when it returns nullopt (signed out).
using stream_tick = std::function<asio::awaitable<std::optional<std::string>>()>;

/// Runs the awaitable `work()` makes where the console runs (the node's executor): at once with
/// one plane, else spawned there and awaited.
template <class Work>
auto on_console(http_context& ctx, Work work) -> decltype(work()) {
    if (!ctx.console_elsewhere) co_return co_await work();
    // Named first: GCC 12 mishandles a temporary built inside a co_await expression.
    auto there = asio::co_spawn(ctx.console_executor, work(), asio::use_awaitable);
    co_return co_await std::move(there);
}
constexpr std::chrono::seconds tick_period{1};

/// What a stream reconnecting with `Last-Event-ID` missed, streamed from the archive (the store,
/// or the call log without one) in pages, oldest first: the newest that fit the stream's
/// bounds and what is left of its key's replay budget; the older ones are said as dropped.
/// `until`: the newest answer before the stream subscribed (later ones come live). Returns
/// false when the client went away.
template <class Stream>
asio::awaitable<bool> replay(Stream& stream, http_context& ctx, std::uint64_t last_event_id,
                             rrpc::answer_cursor until, std::string_view budget_key,
                             std::uint64_t& dropped) {
    constexpr std::size_t page_rows = 8;  // a page read at once: at most 8 answers (2 MB)
    constexpr std::size_t write_bytes = 256 * 1024;
    if (ctx.sync && co_await ctx.sync()) co_return true;  // the store is failing: nothing to read
    auto& archive = *ctx.archive;
    const auto from = archive.answered_at(last_event_id).value_or(rrpc::answer_cursor{});
    const auto allowed = ctx.replay_budget.take(budget_key, ctx.max_queued_bytes, clock::now());
    const auto fit = archive.newest_fitting(from, until, ctx.max_queued, allowed);
    std::size_t spent = 0;  // what is not spent goes back to the key's budget
    struct refund {
        kit::byte_budget& budget;
        std::string_view key;
        const std::size_t& allowed;
        const std::size_t& spent;
        ~refund() { budget.refund(key, allowed > spent ? allowed - spent : 0); }
    } unspent{ctx.replay_budget, budget_key, allowed, spent};
    std::string out;
    if (fit.left_out != 0) {
        dropped += fit.left_out;
        out = "event: dropped\ndata: {\"dropped\":" + std::to_string(fit.left_out) + "}\n\n";
    }
    auto& timed = beast::get_lowest_layer(stream);
    for (auto at = fit.start;;) {
        const auto page = archive.answered(at, until, page_rows);
        for (const auto& r : page) {
            spent += r.reply.size() + rrpc::call_archive::event_overhead;
            out += sse_frame(ctx.reply_of(r));
            at = rrpc::cursor_of(r);
            if (out.size() < write_bytes) continue;
            timed.expires_after(write_timeout);
            if (const auto [ec, n] =
                    co_await asio::async_write(stream, asio::buffer(out), kit::use_nothrow);
                ec)
                co_return false;
            out.clear();
        }
        if (page.size() < page_rows) break;
    }
    if (out.empty()) co_return true;
    timed.expires_after(write_timeout);
    const auto [ec, n] = co_await asio::async_write(stream, asio::buffer(out), kit::use_nothrow);
    co_return !ec;
}

template <class Stream>
asio::awaitable<void> run_reply_stream(Stream& stream, http_context& ctx, unsigned version,
                                       std::optional<std::uint64_t> last_event_id,
                                       std::string_view budget_key, const stream_tick& tick,
                                       const uplink::stream_filter& filter) {
    auto& timed = beast::get_lowest_layer(stream);
    kit::text_queue pending{ctx.max_queued, ctx.max_queued_bytes};
    std::uint64_t dropped = 0, unreported = 0;
    asio::steady_timer wake{stream.get_executor()};
    const auto queue = [&](std::uint64_t id, kit::text_queue::text frame) {
        if (const auto n = pending.push({id, std::move(frame)}); n != 0) {
            dropped += n;
            unreported += n;
            for (std::size_t i = 0; i != n; ++i)
                if (ctx.counters.hit(kit::limit::reply_queue))
                    ctx.log->warn("event=limit_hit limit=reply_queue count={}",
                                  ctx.counters.count(kit::limit::reply_queue));
        }
        wake.cancel();
    };
    const auto wants_product = [&](std::string_view pk) {
        return filter.products.empty() ||
               std::ranges::find(filter.products, pk) != filter.products.end();
    };
    // Live events queue from here on (delivered on this coroutine's executor); a replay ends with
    // the answer before this one.
    const auto here = co_await asio::this_coro::executor;
    std::optional<hub_subscription> sub;
    const bool replies =
        std::ranges::any_of(filter.kinds, [](const std::string& k) { return k == "reply"; });
    if (replies)
        sub.emplace(ctx.replies, ctx.replies.subscribe(here, [&](const rrpc::async_reply& r) {
            if (wants_product(r.device.product_key)) queue(r.message_id, ctx.frames.of(r));
        }));
    // The other kinds: `event: <kind>`, `data:` the event as one JSON document.
    std::vector<std::string> others;
    std::ranges::copy_if(filter.kinds, std::back_inserter(others),
                         [](const std::string& k) { return k != "reply"; });
    std::optional<uplink_subscription> events;
    if (!others.empty() && ctx.uplink != nullptr)
        events.emplace(*ctx.uplink,
                       ctx.uplink->subscribe(
                           here, std::move(others), filter.products,
                           [&](const std::shared_ptr<const uplink::event>& e) {
                               queue(e->id, std::make_shared<const std::string>(
                                                "id: " + std::to_string(e->id) + "\nevent: " +
                                                std::string{uplink::to_string(e->what)} +
                                                "\ndata: " + uplink::event_json(*e) + "\n\n"));
                           }));
    const auto replay_until =
        ctx.calls != nullptr ? ctx.calls->last_answered() : rrpc::answer_cursor{};
    struct counted {
        std::size_t& n;
        explicit counted(std::size_t& c) : n(c) { ++n; }
        ~counted() { --n; }
    } open{ctx.streams};
    bhttp::response<bhttp::empty_body> head{bhttp::status::ok, version};
    head.set(bhttp::field::server, "rrpcd");
    head.set(bhttp::field::content_type, "text/event-stream");
    head.set(bhttp::field::cache_control, "no-cache");
    head.set("X-Accel-Buffering", "no");  // a proxy (nginx) must not hold events back
    head.keep_alive(true);
    head.chunked(false);
    bhttp::response_serializer<bhttp::empty_body> serializer{head};
    timed.expires_after(write_timeout);
    if (const auto [ec, n] =
            co_await bhttp::async_write_header(stream, serializer, kit::use_nothrow);
        ec)
        co_return;
    ctx.log->info("event=reply_stream_opened subscribers={}", ctx.replies.subscribers());
    // `retry:`: how long a client waits before it reconnects (EventSource's default is 3 s).
    std::string out = ": rrpcd reply stream\nretry: 3000\n\n";
    // A client back with `Last-Event-ID` gets what it missed first, streamed (bounded in bytes
    // and by its key's replay budget), then what came live meanwhile: nothing twice.
    if (last_event_id && ctx.archive != nullptr) {
        timed.expires_after(write_timeout);
        if (const auto [ec, n] =
                co_await asio::async_write(stream, asio::buffer(out), kit::use_nothrow);
            ec)
            co_return;
        out.clear();
        if (!co_await replay(stream, ctx, *last_event_id, replay_until, budget_key, dropped))
            co_return;
    }
    // The live events are written from the queue's shared texts (one rendering serves every
    // stream): a stalled stream holds references, never a copy of its own.
    std::vector<kit::text_queue::text> writing;
    std::vector<asio::const_buffer> buffers;
    auto next_tick = clock::now() + tick_period;
    for (;;) {
        buffers.clear();
        if (!out.empty()) buffers.push_back(asio::buffer(out));
        for (const auto& t : writing) buffers.push_back(asio::buffer(*t));
        if (!buffers.empty()) {
            timed.expires_after(write_timeout);
            const auto [ec, n] = co_await asio::async_write(stream, buffers, kit::use_nothrow);
            if (ec) break;
        }
        out.clear();
        writing.clear();
        if (pending.empty()) {
            if (tick)
                wake.expires_at(next_tick);
            else
                wake.expires_after(stream_heartbeat);
            const auto [wec] = co_await wake.async_wait(kit::use_nothrow);
            if (!wec && !tick) out = ": heartbeat\n\n";  // the timer ran out: nothing came
        }
        // On time even while replies keep the stream busy (the overview, and a session that
        // ended, must not wait for a quiet moment).
        if (tick && clock::now() >= next_tick) {
            next_tick = clock::now() + tick_period;
            const auto next = co_await tick();
            if (!next) break;
            out += *next;
        }
        if (unreported != 0) {
            out += "event: dropped\ndata: {\"dropped\":" + std::to_string(unreported) + "}\n\n";
            unreported = 0;
        }
        while (!pending.empty()) writing.push_back(pending.pop().body);
    }
    ctx.log->info("event=reply_stream_closed dropped={}", dropped);
}

/// A probe's, the metrics' or a refusal's plain text.
http::response text_response(probe_answer text, const http::api::request& req) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(text.status), req.version()};
    res.set(bhttp::field::server, "rrpcd");
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.set(bhttp::field::cache_control, "no-store");
    if (text.status == 401)
        res.set(bhttp::field::www_authenticate, "Bearer realm=\"rrpcd\", Basic realm=\"rrpcd\"");
    res.body() = std::move(text.body);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

bool is_parse_error(const boost::system::error_code& ec) {
    return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
           ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

/// Counts (and now and then logs) a request that hit a limit while it was read.
void count_read_limit(http_context& ctx, const boost::system::error_code& ec, bool in_header) {
    std::optional<kit::limit> hit;
    if (ec == beast::error::timeout)
        hit = in_header ? kit::limit::http_header_timeout : kit::limit::http_request_timeout;
    else if (ec == bhttp::error::header_limit)
        hit = kit::limit::http_header_size;
    else if (ec == bhttp::error::body_limit)
        hit = kit::limit::http_body_size;
    if (hit && ctx.counters.hit(*hit))
        ctx.log->info("event=limit_hit limit={} count={}", kit::name_of(*hit),
                      ctx.counters.count(*hit));
}

/// After an error answer to a request not read to its end: stop sending, and read and drop what
/// the client still sends (bounded in time), so that closing does not reset the connection
/// before the client has read the answer.
template <class Stream>
asio::awaitable<void> linger(Stream& stream) {
    constexpr std::chrono::seconds linger_bound{2};
    auto& timed = beast::get_lowest_layer(stream);
    boost::system::error_code ignored;
    timed.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    timed.expires_after(linger_bound);
    std::array<char, 16 * 1024> sink;
    for (;;) {
        const auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kit::use_nothrow);
        if (ec) break;
    }
}

/// Writes a response: at once when the socket takes all of it (a small answer on a plain
/// connection usually does), else asynchronously, within write_timeout.
template <class Stream>
asio::awaitable<boost::system::error_code> send(Stream& stream, const http::response& res) {
    bhttp::response_serializer<bhttp::string_body> serializer{res};
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
        boost::system::error_code ec;  // the socket is non-blocking (run_http_session)
        bhttp::write(stream.socket(), serializer, ec);
        if (serializer.is_done() || (ec && ec != asio::error::would_block)) co_return ec;
    }
    beast::get_lowest_layer(stream).expires_after(write_timeout);
    const auto [ec, n] = co_await bhttp::async_write(stream, serializer, kit::use_nothrow);
    co_return ec;
}

/// The HTTP/1.1 loop over a plain or a TLS stream.
template <class Stream>
asio::awaitable<void> serve(Stream& stream, http_context& ctx, bool tls) {
    auto& timed = beast::get_lowest_layer(stream);
    boost::system::error_code peer_ec;
    const auto remote = timed.socket().remote_endpoint(peer_ec);
    const auto peer = peer_ec ? std::string{"?"}
                              : remote.address().to_string() + ":" + std::to_string(remote.port());
    const auto address = remote.address();
    beast::flat_buffer buffer;
    for (;;) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(ctx.settings->http.max_header_bytes));
        parser.body_limit(ctx.settings->http.max_body_bytes);
        if (buffer.size() == 0) {  // idle until the next request starts (unless pipelined)
            timed.expires_after(ctx.settings->http.idle_timeout);
            const auto [ec, n] =
                co_await stream.async_read_some(buffer.prepare(4096), kit::use_nothrow);
            if (ec) break;
            buffer.commit(n);
        }
        // From its first byte, a request has header_timeout for its header and request_timeout
        // in all: a slowloris client is cut off, however steadily it trickles.
        const auto started = clock::now();
        auto ec = parse_buffered(parser, buffer);
        if (!ec && !parser.is_header_done()) {
            timed.expires_after(ctx.settings->http.header_timeout);
            ec = co_await read_message(stream, buffer, parser, false);
        }
        const bool in_header = !parser.is_header_done();
        if (!ec && !parser.is_done()) {
            timed.expires_at(started + ctx.settings->http.request_timeout);
            ec = co_await read_message(stream, buffer, parser, true);
        }
        if (ec) {
            count_read_limit(ctx, ec, in_header);
            if (is_parse_error(ec)) {
                if (const auto before =
                        ctx.malformed_lines.allow(address.to_string(), clock::now()))
                    ctx.log->info("event=http_malformed peer={} reason={}{}", peer,
                                  kit::logfmt_value(ec.message()),
                                  *before != 0 ? " suppressed_before=" + std::to_string(*before)
                                               : std::string{});
                const auto res = malformed_response(
                    ec, ctx.settings->http.max_header_bytes);  // named: GCC 12 and temporaries
                co_await send(stream, res);
                co_await linger(stream);
            }
            break;
        }
        auto req = parser.release();  // named: see http::api::rrpc_action on GCC 12 temporaries
        if (is_get(req, "/v1/replies/stream")) {
            if (const auto who = ctx.api.authorize(req, address)) {
                const auto filter = uplink::stream_filter_of(req.target());
                if (!filter) {
                    const auto res = stream_query_refused(filter.error(), req.version());
                    co_await send(stream, res);
                    break;
                }
                // Named: GCC 12 mishandles a temporary built inside a co_await expression.
                const stream_tick no_tick;
                const auto last_event_id =
                    kit::parse_whole<std::uint64_t>(std::string_view{req["Last-Event-ID"]});
                co_await run_reply_stream(stream, ctx, req.version(), last_event_id,
                                          who->access_key_id, no_tick, *filter);
                break;
            }
        }
        if (ctx.console != nullptr && console::site::is_console(req.target())) {
            if (ctx.gate.stopping()) {  // shutting down: no sign-in, no action, no new stream
                auto res = cloud_error({503, "ServiceUnavailable", "The server is shutting down."},
                                       req.version());
                co_await send(stream, res);
                break;
            }
            if (!ctx.settings->console.enabled) {
                const auto res =
                    text_response({404, "the console is off ([console] enabled = false)\n"}, req);
                if (const auto wec = co_await send(stream, res); wec || !res.keep_alive()) break;
                continue;
            }
            if (console::site::is_event_stream(req)) {
                std::string cookie{req[bhttp::field::cookie]};
                const auto owner =
                    co_await on_console(ctx, [&]() -> asio::awaitable<std::optional<std::string>> {
                        const auto* s = ctx.console->signed_in(cookie);
                        if (s == nullptr) co_return std::nullopt;
                        co_return s->access_key_id.empty() ? "user " + s->user : s->access_key_id;
                    });
                if (!owner) {
                    const auto res = ctx.console->refused(req);
                    if (const auto wec = co_await send(stream, res); wec || !res.keep_alive())
                        break;
                    continue;
                }
                // Replies and, each second, the overview, while the session lasts.
                // Each second: the overview, and the calls that started or ended since.
                const stream_tick tick =
                    [&ctx, cookie,
                     seen = ctx.calls != nullptr
                                ? ctx.calls->change_seq()
                                : 0]() mutable -> asio::awaitable<std::optional<std::string>> {
                    co_return co_await on_console(
                        ctx, [&] { return ctx.console->stream_tick(cookie, seen); });
                };
                // Named: GCC 12 mishandles a temporary built inside a co_await expression
                // (this one's kinds are initialised from a string literal).
                const uplink::stream_filter replies_only;
                const auto replay = console::site::replay_from(req);
                const auto budget = "console " + *owner;
                co_await run_reply_stream(stream, ctx, req.version(), replay, budget, tick,
                                          replies_only);
                break;
            }
            timed.expires_never();  // an RRpc call waits for its device
            ctx.gate.enter();
            auto res = co_await on_console(
                ctx, [&] { return ctx.console->handle(req, peer, address, tls); });
            ctx.gate.leave();
            if (ctx.gate.stopping()) res.keep_alive(false);
            if (const auto wec = co_await send(stream, res); wec || !res.keep_alive()) break;
            continue;
        }
        // Probes and metrics: plain text, before the drain gate (a draining server is not ready).
        std::optional<probe_answer> text;
        if (req.method() == bhttp::verb::get) text = answer_probe(req.target(), ctx.readiness());
        if (!text && (is_get(req, "/metrics") || is_get(req, "/v1/metrics"))) {
            // Refused: /metrics in plain text; /v1/metrics in the cloud's form, as it always was.
            const auto who = ctx.api.authorize(req, address, ctx.settings->metrics.token);
            if (who) {
                auto metrics = co_await ctx.metrics();
                text = probe_answer{200, std::move(metrics)};
            } else if (is_get(req, "/metrics")) {
                text = probe_answer{who.error().status,
                                    who.error().status == 429
                                        ? "too many failed attempts: wait, then try again\n"
                                        : "a scrape token (Bearer) or an access key (Basic)\n"};
            } else {
                const auto res = http::make_response(
                    who.error().status,
                    http::error_body(who.error(), http::new_request_id(), req[bhttp::field::host]),
                    http::format::json, "Error", req.version(), req.keep_alive());
                if (const auto wec = co_await send(stream, res); wec || !res.keep_alive()) break;
                continue;
            }
        }
        if (text) {
            const auto res = text_response(std::move(*text), req);
            const auto wec = co_await send(stream, res);
            if (wec || !res.keep_alive()) break;
            continue;
        }
        if (ctx.gate.stopping()) {  // shutting down: finish what runs, take nothing new
            auto res = cloud_error({503, "ServiceUnavailable", "The server is shutting down."},
                                   req.version());
            co_await send(stream, res);
            break;
        }
        timed.expires_never();  // an RRpc call waits for its device
        ctx.gate.enter();
        auto res = co_await ctx.api.handle(std::move(req), peer);
        ctx.gate.leave();
        if (ctx.gate.stopping()) res.keep_alive(false);
        const auto wec = co_await send(stream, res);
        if (wec || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    timed.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace

asio::awaitable<void> run_http_session(asio::ip::tcp::socket socket, http_context& ctx,
                                       tls_context tls, kit::connection_slot slot) {
    const kit::connection_slot held = std::move(slot);
    boost::system::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay{true}, ignored);
    if (!tls) {
        socket.non_blocking(true, ignored);  // send() tries a write at once
        beast::tcp_stream stream{std::move(socket)};
        co_await serve(stream, ctx, false);
        co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream{std::move(socket), *tls};
    beast::get_lowest_layer(stream).expires_after(ctx.settings->http.header_timeout);
    const auto [ec] =
        co_await stream.async_handshake(asio::ssl::stream_base::server, kit::use_nothrow);
    if (ec) {
        ctx.log->info("event=tls_handshake_failed reason={}", kit::logfmt_value(ec.message()));
        co_return;
    }
    co_await serve(stream, ctx, true);
}

std::string over_limit_response() {
    const auto e =
        cloud_error({503, "ServiceUnavailable", "Too many connections; try again later."}, 11);
    std::ostringstream out;
    out << e;
    return out.str();
}

}  // namespace rrpcd::server
