#pragma once

#include "config/settings.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/result.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisAsyncContext;

namespace rrpcd::cluster {

/// A Redis reply, copied out of hiredis.
struct reply {
    enum class type : std::uint8_t { nil, integer, text, status, error, array };
    type kind = type::nil;
    long long integer = 0;
    std::string text;  ///< a bulk string, a status or an error
    std::vector<reply> elements;

    bool is_error() const noexcept { return kind == type::error; }
};

/// Why a command has no reply.
enum class redis_error : std::uint8_t {
    not_connected,  ///< no connection now (Redis down, or connecting again)
    timed_out,      ///< no reply within cluster.op_timeout_ms (Redis hung or far)
    lost,           ///< the connection ended before the reply
};
std::string_view to_string(redis_error e) noexcept;

/// One connection to Redis driven by hiredis' async API on the node's io_context: its socket is
/// an Asio descriptor and hiredis' read and write hooks are Asio waits, on a strand of its own
/// (no thread). It connects again after a loss (every 100 ms up to 1 s) until stop(), and then
/// authenticates and, as a subscriber, subscribes again. The only user of hiredis.
class redis_connection : public std::enable_shared_from_this<redis_connection> {
public:
    using result = boost::system::result<reply, redis_error>;

    redis_connection(boost::asio::io_context& io, const config::cluster_settings& settings,
                     std::string name, std::shared_ptr<spdlog::logger> log);
    ~redis_connection();
    redis_connection(const redis_connection&) = delete;
    redis_connection& operator=(const redis_connection&) = delete;

    /// Makes it a subscriber of `channels` (before start()): it then runs no commands, and
    /// `on_message` is called on its strand with each message's channel and bytes.
    void listen(std::vector<std::string> channels,
                std::function<void(std::string_view channel, std::string_view bytes)> on_message);
    /// Told on its strand after each (re)connection is ready (authenticated, subscribed), and
    /// when a ready connection is lost.
    std::function<void()> on_ready, on_lost;

    void start();
    void stop();

    /// Runs one command (any thread); its reply (an error reply included) or why none came.
    boost::asio::awaitable<result> command(std::vector<std::string> args);

    /// Connected and ready now.
    bool ready() const noexcept { return ready_.load(std::memory_order_relaxed); }
    const boost::asio::strand<boost::asio::io_context::executor_type>& strand() const noexcept {
        return strand_;
    }

private:
    struct pending;
    /// `args` must live until it resumes (command()'s own).
    boost::asio::awaitable<result> run(const std::vector<std::string>& args);
    void connect();
    void retry();
    void want_read();
    void want_write();
    /// Arms one wait of `what` (unless `armed`); when ready, hiredis' `handle` runs, and again
    /// while hiredis still `wanted` it.
    void want(boost::asio::posix::stream_descriptor::wait_type what, bool& armed, bool& wanted,
              void (*handle)(redisAsyncContext*));
    void detach();
    static void on_connect(const redisAsyncContext* c, int status);
    static void on_reply(redisAsyncContext* c, void* r, void* privdata);
    static void on_ready_reply(redisAsyncContext* c, void* r, void* privdata);
    static void on_message(redisAsyncContext* c, void* r, void* privdata);

    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    config::cluster_settings settings_;
    std::string name_;
    std::shared_ptr<spdlog::logger> log_;
    redisAsyncContext* context_ = nullptr;
    std::optional<boost::asio::posix::stream_descriptor> socket_;
    bool reading_ = false, writing_ = false;           ///< a wait is armed
    bool read_wanted_ = false, write_wanted_ = false;  ///< hiredis asked for it
    boost::asio::steady_timer retry_timer_;
    std::chrono::milliseconds retry_delay_{100};
    bool stopped_ = false;
    bool was_up_ = false;  ///< for logging a loss once
    std::atomic<bool> ready_{false};
    std::vector<std::string> channels_;
    std::function<void(std::string_view, std::string_view)> on_message_;
};

}  // namespace rrpcd::cluster
