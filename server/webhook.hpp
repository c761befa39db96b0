#pragma once

#include "config/settings.hpp"
#include "kit/text_queue.hpp"
#include "rrpc/reply_hub.hpp"

#include <spdlog/logger.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>

namespace rrpcd::server {

/// Delivers every async reply to one backend URL as a POST, in order, retried with exponential
/// back-off; it never blocks device I/O (its own coroutine, a bounded queue whose oldest entry
/// is dropped when full). Each POST carries `X-Rrpcd-Timestamp` (Unix seconds) and
/// `X-Rrpcd-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`. io thread only.
class webhook_sender {
public:
    webhook_sender(boost::asio::any_io_executor ex, config::webhook hook, std::size_t max_queued,
                   std::size_t max_queued_bytes, rrpc::reply_hub& hub,
                   std::shared_ptr<spdlog::logger> log);
    ~webhook_sender();
    webhook_sender(const webhook_sender&) = delete;
    webhook_sender& operator=(const webhook_sender&) = delete;

    /// Starts delivering (subscribes to the hub and spawns the sender).
    void start();

    /// What it did (the metrics): delivered replies, attempts after a failed one, replies given
    /// up after the last attempt, replies dropped from a full queue.
    struct counts {
        std::uint64_t delivered = 0, retries = 0, gave_up = 0, dropped = 0;
    };
    counts stats() const noexcept { return {delivered_, retries_, gave_up_, dropped_}; }

private:
    boost::asio::awaitable<void> run();
    /// One POST; true on a 2xx answer.
    boost::asio::awaitable<bool> post(const std::string& body, std::uint64_t message_id);

    boost::asio::any_io_executor ex_;
    config::webhook hook_;
    std::string shown_url_;  ///< the URL as logs show it: its password masked, quoted
    kit::text_queue queue_;
    rrpc::reply_hub& hub_;
    std::shared_ptr<spdlog::logger> log_;
    boost::asio::steady_timer wake_;
    std::uint64_t token_ = 0;
    std::uint64_t dropped_ = 0;
    std::uint64_t delivered_ = 0, retries_ = 0, gave_up_ = 0;
};

}  // namespace rrpcd::server
