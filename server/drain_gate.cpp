#include "server/drain_gate.hpp"

#include "kit/use_nothrow.hpp"

#include <boost/asio/post.hpp>

namespace rrpcd::server {

void drain_gate::leave() {
    // The last one out wakes wait_idle() on its own executor (a timer is not for two threads).
    if (in_flight_.fetch_sub(1) == 1 && stopping_.load())
        boost::asio::post(idle_.get_executor(), [this] { idle_.cancel(); });
}

boost::asio::awaitable<void> drain_gate::wait_idle(std::chrono::milliseconds bound) {
    const auto until = std::chrono::steady_clock::now() + bound;
    while (in_flight_.load() != 0 && std::chrono::steady_clock::now() < until) {
        idle_.expires_at(until);
        co_await idle_.async_wait(kit::use_nothrow);  // cancelled by the last leave()
    }
}

}  // namespace rrpcd::server
