#include "server/webhook.hpp"
#include "kit/logfmt.hpp"

#include "http/render.hpp"
#include "kit/use_nothrow.hpp"

#include "kit/crypto.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>

namespace rrpcd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace {
constexpr int max_attempts = 10;
constexpr std::chrono::seconds request_timeout{10};
}  // namespace

webhook_sender::webhook_sender(asio::any_io_executor ex, config::webhook hook,
                               std::size_t max_queued, std::size_t max_queued_bytes,
                               rrpc::reply_hub& hub, std::shared_ptr<spdlog::logger> log)
    : ex_(std::move(ex)),
      hook_(std::move(hook)),
      shown_url_(kit::logfmt_value(kit::redact_url(hook_.url))),
      queue_(max_queued, max_queued_bytes),
      hub_(hub),
      log_(std::move(log)),
      wake_(ex_, asio::steady_timer::time_point::max()) {}

webhook_sender::~webhook_sender() {
    if (token_ != 0) hub_.unsubscribe(token_);
}

void webhook_sender::start() {
    token_ = hub_.subscribe([this](const rrpc::async_reply& r) {
        if (const auto n = queue_.push(
                {r.message_id, std::make_shared<const std::string>(http::forwarding_json(r))});
            n != 0) {
            dropped_ += n;
            log_->warn("event=webhook_dropped url={} dropped={}", shown_url_, dropped_);
        }
        wake_.cancel();
    });
    asio::co_spawn(ex_, run(), asio::detached);  // run() catches nothing that can throw here
}

asio::awaitable<void> webhook_sender::run() {
    asio::steady_timer backoff{ex_};
    for (;;) {
        if (queue_.empty()) {
            wake_.expires_at(asio::steady_timer::time_point::max());
            co_await wake_.async_wait(kit::use_nothrow);
            continue;
        }
        const auto [id, body] = queue_.pop();
        bool delivered = false;
        for (int attempt = 0; attempt < max_attempts && !delivered; ++attempt) {
            if (attempt > 0) {
                ++retries_;
                backoff.expires_after(std::min<std::chrono::milliseconds>(
                    std::chrono::milliseconds{250} * (1 << (attempt - 1)),
                    std::chrono::seconds{30}));
                co_await backoff.async_wait(kit::use_nothrow);
            }
            delivered = co_await post(*body, id);
        }
        if (delivered) {
            ++delivered_;
        } else {
            ++gave_up_;
            log_->warn("event=webhook_gave_up url={} message_id={}", shown_url_, id);
        }
    }
}

asio::awaitable<bool> webhook_sender::post(const std::string& body, std::uint64_t message_id) {
    const auto url = boost::urls::parse_absolute_uri(hook_.url);
    if (!url) co_return false;  // validated at load
    const std::string host{url->host()};
    const std::string port = url->has_port() ? std::string{url->port()} : std::string{"80"};
    asio::ip::tcp::resolver resolver{ex_};
    const auto [rec, endpoints] = co_await resolver.async_resolve(host, port, kit::use_nothrow);
    if (rec) co_return false;
    beast::tcp_stream stream{ex_};
    stream.expires_after(request_timeout);
    const auto [cec, ep] = co_await stream.async_connect(endpoints, kit::use_nothrow);
    if (cec) {
        log_->debug("event=webhook_connect_failed url={} reason={}", shown_url_,
                    kit::logfmt_value(cec.message()));
        co_return false;
    }
    const auto target =
        url->encoded_target().empty() ? std::string{"/"} : std::string{url->encoded_target()};
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, target, 11};
    req.set(bhttp::field::host, url->encoded_host_and_port());
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
    req.body() = body;
    req.prepare_payload();
    const auto [wec, wn] = co_await bhttp::async_write(stream, req, kit::use_nothrow);
    if (wec) co_return false;
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    const auto [rec2, rn] = co_await bhttp::async_read(stream, buffer, res, kit::use_nothrow);
    boost::system::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    if (rec2) co_return false;
    const auto status = static_cast<unsigned>(res.result());
    if (status < 200 || status >= 300)
        log_->debug("event=webhook_refused url={} status={}", shown_url_, status);
    co_return status >= 200 && status < 300;
}

}  // namespace rrpcd::server
