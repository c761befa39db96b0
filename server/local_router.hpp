#pragma once

#include "rrpc/async_calls.hpp"
#include "rrpc/router.hpp"
#include "rrpc/service.hpp"
#include "server/device_registry.hpp"

namespace rrpcd::server {

/// The router when the device's owner is this thread's own device plane: each message is a
/// direct call on the registry, the RRPC service and the async calls, on their thread.
class local_router final : public rrpc::router {
public:
    local_router(device_registry& registry, rrpc::service& rrpc, rrpc::async_calls& async)
        : registry_(registry), rrpc_(rrpc), async_(async) {}

    std::uint64_t next_id(const catalog::device_key&) override { return rrpc_.next_id(); }
    boost::asio::awaitable<rrpc::device_link> link(catalog::device_key device) override;
    boost::asio::awaitable<std::vector<rrpc::presence>> links(
        std::vector<catalog::device_key> devices) override;
    boost::asio::awaitable<call_outcome> call(rrpc::call_request request,
                                              std::size_t max_pending) override;
    boost::asio::awaitable<rrpc::async_calls::sent> send(std::uint64_t message_id,
                                                         rrpc::async_request request) override;
    boost::asio::awaitable<published> publish(catalog::device_key device, std::string topic,
                                              std::string payload, bool reliably,
                                              std::uint64_t message_id) override;
    boost::asio::awaitable<void> withdraw(catalog::device_key device,
                                          std::uint64_t message_id) override;
    void close(catalog::device_key device, bool forget) override;

private:
    device_registry& registry_;
    rrpc::service& rrpc_;
    rrpc::async_calls& async_;
};

}  // namespace rrpcd::server
