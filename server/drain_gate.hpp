#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>

namespace rrpcd::server {

/// Counts the API requests in flight so that a shutdown can let them finish: after stop(), new
/// requests are refused and wait_idle() returns once the last one left (or the bound passed).
/// enter(), leave() and the readers: any thread; wait_idle(): on the executor it was made with.
class drain_gate {
public:
    explicit drain_gate(boost::asio::any_io_executor ex) : idle_(ex) {}

    void enter() noexcept { in_flight_.fetch_add(1, std::memory_order_relaxed); }
    void leave();
    void stop() noexcept { stopping_.store(true); }
    bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }
    std::size_t in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }

    /// Waits until no request is in flight, at most `bound`.
    boost::asio::awaitable<void> wait_idle(std::chrono::milliseconds bound);

private:
    boost::asio::steady_timer idle_;
    std::atomic<std::size_t> in_flight_{0};
    std::atomic<bool> stopping_{false};
};

}  // namespace rrpcd::server
