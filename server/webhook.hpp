#pragma once

#include "config/settings.hpp"
#include "kit/text_queue.hpp"
#include "rrpc/reply_hub.hpp"
#include "server/uplink.hpp"
#include "store/journal.hpp"

#include <spdlog/logger.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace rrpcd::server {

/// Delivers every async reply (and, as its `kinds` and `products` say, the other uplink events:
/// a JSON document each, uplink::event_json()) to one backend URL (http:// or https://, its
/// certificate checked against the system's CAs or `ca_file`) as a POST: up to `max_in_flight` at
/// once, each on a keep-alive connection of its own (a TLS handshake per connection, not per
/// reply), each reply retried with exponential back-off for `replies.webhook_retry_s` after it was
/// queued, then given up (warn, counted). It never blocks device I/O (coroutines of its own, a
/// bounded queue whose oldest entry is dropped when full). The queue is in the store, under the
/// webhook's identity (its `id`, or a digest of its URL and secret): a restart delivers what was
/// not (at least once), to the webhook it was queued for. Each POST carries `X-Rrpcd-Timestamp`
/// (Unix seconds) and `X-Rrpcd-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." +
/// body)>`. io thread only.
class webhook_sender {
public:
    webhook_sender(boost::asio::any_io_executor ex, config::webhook hook,
                   const config::replies_settings& replies, rrpc::reply_hub& hub,
                   uplink_service& uplink, store::journal& journal,
                   std::shared_ptr<spdlog::logger> log);
    ~webhook_sender();
    webhook_sender(const webhook_sender&) = delete;
    webhook_sender& operator=(const webhook_sender&) = delete;

    /// Start-up: a reply the store kept undelivered (before start()).
    void restore(std::uint64_t message_id, std::int64_t queued_ms, std::string body);
    /// Starts delivering (subscribes to the hub and spawns the senders).
    void start();
    const std::string& url() const noexcept { return hook_.url; }
    /// What its queue in the store is kept under.
    const std::string& identity() const noexcept { return identity_; }

    /// What it did (the metrics): delivered replies, attempts after a failed one, replies given
    /// up after the last attempt, replies dropped from a full queue.
    struct counts {
        std::uint64_t delivered = 0, retries = 0, gave_up = 0, dropped = 0;
    };
    /// Any thread (the counters are atomics; the sender runs on its own strand).
    counts stats() const noexcept {
        return {delivered_.load(), retries_.load(), gave_up_.load(), dropped_.load()};
    }

private:
    struct connection;
    /// One of the `max_in_flight` senders: takes the oldest reply, POSTs it until it is
    /// delivered or given up, and goes on; its connection stays open between replies.
    boost::asio::awaitable<void> send_loop();
    /// One POST on `c` (connecting first when it is not open); true on a 2xx answer. A kept
    /// connection the server closed meanwhile is opened again once, at once.
    boost::asio::awaitable<bool> post(connection& c, const std::string& body,
                                      std::uint64_t message_id);
    /// Connects `c` (TCP, then TLS for https).
    boost::asio::awaitable<bool> connect(connection& c);
    /// Writes the request on `c`'s stream and reads the answer's status (0: none); false in
    /// `reusable` when the connection cannot carry another request.
    template <class Stream>
    boost::asio::awaitable<unsigned> exchange(
        Stream& stream, connection& c,
        boost::beast::http::request<boost::beast::http::string_body>& req, bool& reusable);

    boost::asio::any_io_executor ex_;
    config::webhook hook_;
    std::string identity_;
    std::string shown_url_;  ///< the URL as logs show it: its password masked, quoted
    bool https_ = false;
    std::string host_, port_, target_, host_header_;
    kit::text_queue queue_;
    std::chrono::milliseconds retry_window_;
    std::optional<boost::asio::ssl::context> tls_;  ///< https: the client context
    rrpc::reply_hub& hub_;
    uplink_service& uplink_;
    /// Queues one message (its id, the POST body) unless past the queue's bound.
    void queue(std::uint64_t id, std::string body);
    store::journal& journal_;
    std::shared_ptr<spdlog::logger> log_;
    boost::asio::steady_timer wake_;
    std::uint64_t token_ = 0, uplink_token_ = 0;
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> delivered_{0}, retries_{0}, gave_up_{0};
};

}  // namespace rrpcd::server
