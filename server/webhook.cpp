#include "server/webhook.hpp"
#include "kit/logfmt.hpp"

#include "http/render.hpp"
#include "kit/use_nothrow.hpp"
#include "server/http_read.hpp"

#include "kit/backoff.hpp"
#include "kit/crypto.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>

namespace rrpcd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace {
constexpr std::chrono::seconds request_timeout{10};
/// What is read of an answer: its status matters; a longer body ends the connection instead.
constexpr std::uint32_t answer_header_limit = 64 * 1024;
constexpr std::uint64_t answer_body_limit = 1024 * 1024;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}
}  // namespace

/// A sender's connection to the webhook: plain or TLS, kept open between POSTs.
struct webhook_sender::connection {
    std::optional<beast::tcp_stream> tcp;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    beast::flat_buffer buffer;
    bool open() const noexcept { return tcp || tls; }
    void close() {
        boost::system::error_code ignored;
        if (tcp) tcp->socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        tcp.reset();
        tls.reset();
        buffer.clear();
    }
};

webhook_sender::webhook_sender(asio::any_io_executor ex, config::webhook hook,
                               const config::replies_settings& replies, rrpc::reply_hub& hub,
                               uplink_service& uplink, store::journal& journal,
                               std::shared_ptr<spdlog::logger> log)
    : ex_(std::move(ex)),
      hook_(std::move(hook)),
      identity_(config::identity_of(hook_)),
      shown_url_(kit::logfmt_value(kit::redact_url(hook_.url))),
      queue_(replies.max_queued, replies.max_queued_bytes),
      retry_window_(replies.webhook_retry),
      hub_(hub),
      uplink_(uplink),
      journal_(journal),
      log_(std::move(log)),
      wake_(ex_, asio::steady_timer::time_point::max()) {
    if (const auto url = boost::urls::parse_absolute_uri(hook_.url)) {  // validated at load
        https_ = url->scheme() == "https";
        host_ = url->host();
        port_ = url->has_port() ? std::string{url->port()} : std::string{https_ ? "443" : "80"};
        target_ =
            url->encoded_target().empty() ? std::string{"/"} : std::string{url->encoded_target()};
        host_header_ = url->encoded_host_and_port();
    }
    if (https_) {
        auto& ctx = tls_.emplace(asio::ssl::context::tls_client);
        ctx.set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                        asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
        ctx.set_verify_mode(asio::ssl::verify_peer);
        boost::system::error_code ec;
        if (hook_.ca_file.empty())
            ctx.set_default_verify_paths(ec);
        else
            ctx.load_verify_file(hook_.ca_file.string(), ec);
        if (ec)
            log_->error("event=webhook_ca_failed url={} reason={}", shown_url_,
                        kit::logfmt_value(ec.message()));
    }
}

webhook_sender::~webhook_sender() {
    if (token_ != 0) hub_.unsubscribe(token_);
    if (uplink_token_ != 0) uplink_.unsubscribe(uplink_token_);
}

void webhook_sender::restore(std::uint64_t message_id, std::int64_t queued_ms, std::string body) {
    queue_.push({message_id, std::make_shared<const std::string>(std::move(body)), queued_ms},
                [&](const kit::text_queue::entry& gone) {
                    ++dropped_;
                    journal_.delivery_done(identity_, gone.id);
                });
}

void webhook_sender::queue(std::uint64_t id, std::string body) {
    kit::text_queue::entry e{id, std::make_shared<const std::string>(std::move(body)), now_ms()};
    journal_.delivery_queued(identity_, e.id, e.queued_ms, *e.body);
    if (const auto n = queue_.push(std::move(e),
                                   [&](const kit::text_queue::entry& gone) {
                                       journal_.delivery_done(identity_, gone.id);
                                   });
        n != 0) {
        dropped_ += n;
        log_->warn("event=webhook_dropped url={} dropped={}", shown_url_, dropped_.load());
    }
    wake_.cancel_one();
}

void webhook_sender::start() {
    const auto& kinds = hook_.kinds;
    const auto wants_product = [this](std::string_view pk) {
        return hook_.products.empty() ||
               std::ranges::find(hook_.products, pk) != hook_.products.end();
    };
    if (std::ranges::find(kinds, "reply") != kinds.end())
        token_ = hub_.subscribe(ex_, [this, wants_product](const rrpc::async_reply& r) {
            // An answer matched on another node is that node's webhooks' (once per cluster).
            if (!r.elsewhere && wants_product(r.device.product_key))
                queue(r.message_id, http::forwarding_json(r));
        });
    std::vector<std::string> others;
    std::ranges::copy_if(kinds, std::back_inserter(others),
                         [](const std::string& k) { return k != "reply"; });
    if (!others.empty())
        uplink_token_ = uplink_.subscribe(ex_, std::move(others), hook_.products,
                                          [this](const std::shared_ptr<const uplink::event>& e) {
                                              queue(e->id, uplink::event_json(*e));
                                          });
    if (!queue_.empty())
        log_->info("event=webhook_restored url={} replies={}", shown_url_, queue_.size());
    for (std::size_t i = 0; i < hook_.max_in_flight; ++i)
        asio::co_spawn(ex_, send_loop(), asio::detached);  // send_loop() throws nothing here
}

asio::awaitable<void> webhook_sender::send_loop() {
    asio::steady_timer backoff{ex_};
    connection c;
    for (;;) {
        if (queue_.empty()) {
            // Idle until a reply comes: each reply wakes one waiting sender (the timer never
            // expires; cancel_one() is the signal). A reply that comes while every sender is
            // busy is taken by the first one done.
            co_await wake_.async_wait(kit::use_nothrow);
            continue;
        }
        const auto e = queue_.pop();
        if (!queue_.empty()) wake_.cancel_one();  // more: another sender may take the next
        bool delivered = co_await post(c, *e.body, e.id);
        for (int failures = 1; !delivered; ++failures) {
            const auto delay = kit::retry_delay(
                failures, std::chrono::milliseconds{now_ms() - e.queued_ms}, retry_window_);
            if (!delay) break;
            ++retries_;
            backoff.expires_after(*delay);
            co_await backoff.async_wait(kit::use_nothrow);
            delivered = co_await post(c, *e.body, e.id);
        }
        if (delivered) {
            ++delivered_;
        } else {
            ++gave_up_;
            log_->warn("event=webhook_gave_up url={} message_id={} after_s={}", shown_url_, e.id,
                       (now_ms() - e.queued_ms) / 1000);
        }
        journal_.delivery_done(identity_, e.id);
    }
}

asio::awaitable<bool> webhook_sender::connect(connection& c) {
    c.close();
    asio::ip::tcp::resolver resolver{ex_};
    const auto [rec, endpoints] = co_await resolver.async_resolve(host_, port_, kit::use_nothrow);
    if (rec) co_return false;
    beast::tcp_stream tcp{ex_};
    tcp.expires_after(request_timeout);
    const auto [cec, ep] = co_await tcp.async_connect(endpoints, kit::use_nothrow);
    if (cec) {
        log_->debug("event=webhook_connect_failed url={} reason={}", shown_url_,
                    kit::logfmt_value(cec.message()));
        co_return false;
    }
    boost::system::error_code ignored;
    tcp.socket().set_option(asio::ip::tcp::no_delay{true}, ignored);
    if (!https_) {
        c.tcp.emplace(std::move(tcp));
        co_return true;
    }
    if (!tls_) co_return false;
    auto& stream = c.tls.emplace(std::move(tcp), *tls_);
    // SNI, and the certificate must name the host.
    if (!SSL_set_tlsext_host_name(stream.native_handle(), host_.c_str())) {
        c.close();
        co_return false;
    }
    stream.set_verify_callback(asio::ssl::host_name_verification(host_));
    const auto [hec] =
        co_await stream.async_handshake(asio::ssl::stream_base::client, kit::use_nothrow);
    if (hec) {
        log_->debug("event=webhook_tls_failed url={} reason={}", shown_url_,
                    kit::logfmt_value(hec.message()));
        c.close();
        co_return false;
    }
    co_return true;
}

template <class Stream>
asio::awaitable<unsigned> webhook_sender::exchange(Stream& stream, connection& c,
                                                   bhttp::request<bhttp::string_body>& req,
                                                   bool& reusable) {
    reusable = false;
    beast::get_lowest_layer(stream).expires_after(request_timeout);
    const auto [wec, wn] = co_await bhttp::async_write(stream, req, kit::use_nothrow);
    if (wec) co_return 0u;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(answer_header_limit);
    parser.body_limit(answer_body_limit);
    if (co_await read_message(stream, c.buffer, parser, false)) co_return 0u;
    const auto status = static_cast<unsigned>(parser.get().result_int());
    // The body is read (to reuse the connection) when it is short; a long one ends it.
    if (const auto rec = co_await read_message(stream, c.buffer, parser, true); rec)
        co_return status;
    reusable = parser.get().keep_alive();
    co_return status;
}

asio::awaitable<bool> webhook_sender::post(connection& c, const std::string& body,
                                           std::uint64_t message_id) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, target_, 11};
    req.set(bhttp::field::host, host_header_);
    req.set(bhttp::field::content_type, "application/json");
    req.set(bhttp::field::user_agent, "rrpcd");
    const auto timestamp = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
    req.set("X-Rrpcd-Timestamp", timestamp);
    req.set("X-Rrpcd-Message-Id", std::to_string(message_id));
    req.set("X-Rrpcd-Signature",
            "sha256=" + kit::to_hex(kit::hmac(kit::hmac_algorithm::sha256, hook_.secret,
                                              timestamp + "." + body)));
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    // A kept connection may have been closed by the server since the last reply: a failure on
    // it before any answer is tried once more on a new connection, at once.
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool reused = c.open();
        if (!reused && !co_await connect(c)) co_return false;
        bool reusable = false;
        const auto status = c.tls ? co_await exchange(*c.tls, c, req, reusable)
                                  : co_await exchange(*c.tcp, c, req, reusable);
        if (!reusable) c.close();
        if (status == 0 && reused) continue;
        if (status != 0 && (status < 200 || status >= 300))
            log_->debug("event=webhook_refused url={} status={}", shown_url_, status);
        co_return status >= 200 && status < 300;
    }
    co_return false;
}

}  // namespace rrpcd::server
