#include "server/drain_gate.hpp"

#include "kit/use_nothrow.hpp"

namespace rrpcd::server {

boost::asio::awaitable<void> drain_gate::wait_idle(std::chrono::milliseconds bound) {
    if (in_flight_ == 0) co_return;
    idle_.expires_after(bound);
    co_await idle_.async_wait(kit::use_nothrow);  // cancelled by the last leave()
}

}  // namespace rrpcd::server
