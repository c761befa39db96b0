#include "server/http_session.hpp"
#include "rrpc/use_nothrow.hpp"

#include "http/render.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <deque>

namespace rrpcd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace {

constexpr std::chrono::seconds write_timeout{30};

/// The cloud-shaped answer to a request that could not be parsed as HTTP.
http::response malformed_response(const boost::system::error_code& ec) {
    http::api_error e{400, "BadRequest",
                      "The request is not valid HTTP/1.1: " + ec.message() + "."};
    if (ec == bhttp::error::header_limit)
        e = {431, "RequestHeaderFieldsTooLarge", "The request line or headers are too large."};
    if (ec == bhttp::error::body_limit)
        e = {413, "RequestEntityTooLarge", "The request body is too large."};
    return http::make_response(e.status, http::error_body(e, http::new_request_id(), ""),
                               http::format::json, "Error", 11, false);
}

constexpr std::chrono::seconds stream_heartbeat{15};

bool is_stream_request(const http::api::request& req) {
    // A prefix test, not a URL parse: this runs for every request.
    constexpr std::string_view path = "/v1/replies/stream";
    const std::string_view target = req.target();
    return req.method() == bhttp::verb::get && target.starts_with(path) &&
           (target.size() == path.size() || target[path.size()] == '?');
}

/// Unsubscribes a stream from the hub on every way out.
struct hub_subscription {
    rrpc::reply_hub& hub;
    std::uint64_t token;
    ~hub_subscription() { hub.unsubscribe(token); }
};

/// Streams async replies as Server-Sent Events until the client leaves: `id: <MessageId>`,
/// `event: reply`, `data: <forwarding JSON>`, and a comment line as heartbeat.
asio::awaitable<void> run_reply_stream(beast::tcp_stream& stream, http_context& ctx,
                                       unsigned version) {
    std::deque<std::string> pending;
    std::uint64_t dropped = 0;
    asio::steady_timer wake{stream.get_executor()};
    const hub_subscription sub{
        ctx.replies, ctx.replies.subscribe([&](std::uint64_t id, const std::string& json) {
            if (pending.size() >= ctx.max_queued) {
                pending.pop_front();
                ++dropped;
            }
            pending.push_back("id: " + std::to_string(id) + "\nevent: reply\ndata: " + json +
                              "\n\n");
            wake.cancel();
        })};
    bhttp::response<bhttp::empty_body> head{bhttp::status::ok, version};
    head.set(bhttp::field::server, "rrpcd");
    head.set(bhttp::field::content_type, "text/event-stream");
    head.set(bhttp::field::cache_control, "no-cache");
    head.keep_alive(true);
    head.chunked(false);
    bhttp::response_serializer<bhttp::empty_body> serializer{head};
    stream.expires_after(write_timeout);
    if (const auto [ec, n] = co_await bhttp::async_write_header(stream, serializer, use_nothrow);
        ec)
        co_return;
    ctx.log->info("event=reply_stream_opened subscribers={}", ctx.replies.subscribers());
    std::string out = ": rrpcd reply stream\n\n";
    for (;;) {
        stream.expires_after(write_timeout);
        const auto [ec, n] = co_await asio::async_write(stream, asio::buffer(out), use_nothrow);
        if (ec) break;
        out.clear();
        if (pending.empty()) {
            wake.expires_after(stream_heartbeat);
            const auto [wec] = co_await wake.async_wait(use_nothrow);
            if (!wec) out = ": heartbeat\n\n";  // the timer ran out: nothing came
        }
        while (!pending.empty()) {
            out += pending.front();
            pending.pop_front();
        }
    }
    ctx.log->info("event=reply_stream_closed dropped={}", dropped);
}

bool is_parse_error(const boost::system::error_code& ec) {
    return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
           ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

}  // namespace

asio::awaitable<void> run_http_session(asio::ip::tcp::socket socket, http_context& ctx) {
    boost::system::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay{true}, ignored);
    beast::tcp_stream stream{std::move(socket)};
    beast::flat_buffer buffer;
    for (;;) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(ctx.settings.max_header_bytes));
        parser.body_limit(ctx.settings.max_body_bytes);
        stream.expires_after(ctx.settings.idle_timeout);
        const auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, use_nothrow);
        if (ec) {
            if (is_parse_error(ec)) {
                ctx.log->info("event=http_malformed reason=\"{}\"", ec.message());
                stream.expires_after(write_timeout);
                auto res = malformed_response(ec);
                co_await bhttp::async_write(stream, res, use_nothrow);
            }
            break;
        }
        auto req = parser.release();  // named: see http::api::rrpc_action on GCC 12 temporaries
        if (is_stream_request(req) && ctx.api.authorize_basic(req)) {
            co_await run_reply_stream(stream, ctx, req.version());
            break;
        }
        if (ctx.gate.stopping()) {  // shutting down: finish what runs, take nothing new
            const http::api_error e{503, "ServiceUnavailable", "The server is shutting down."};
            auto res =
                http::make_response(e.status, http::error_body(e, http::new_request_id(), ""),
                                    http::format::json, "Error", req.version(), false);
            stream.expires_after(write_timeout);
            co_await bhttp::async_write(stream, res, use_nothrow);
            break;
        }
        stream.expires_never();  // an RRpc call waits for its device
        ctx.gate.enter();
        auto res = co_await ctx.api.handle(std::move(req));
        ctx.gate.leave();
        if (ctx.gate.stopping()) res.keep_alive(false);
        stream.expires_after(write_timeout);
        const auto [wec, wn] = co_await bhttp::async_write(stream, res, use_nothrow);
        if (wec || !res.keep_alive()) break;
    }
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace rrpcd::server
