#include "server/local_router.hpp"

namespace rrpcd::server {

namespace asio = boost::asio;

asio::awaitable<rrpc::device_link> local_router::link(catalog::device_key device) {
    co_return rrpc::device_link{registry_.presence_of(device), registry_.ext_rrpc(device)};
}

asio::awaitable<std::vector<rrpc::presence>> local_router::links(
    std::vector<catalog::device_key> devices) {
    std::vector<rrpc::presence> out;
    out.reserve(devices.size());
    for (const auto& d : devices) out.push_back(registry_.presence_of(d));
    co_return out;
}

asio::awaitable<local_router::call_outcome> local_router::call(rrpc::call_request request,
                                                               std::size_t max_pending) {
    call_outcome out;
    if (const auto waiting = rrpc_.pending_for(request.device); waiting >= max_pending) {
        out.waiting = waiting;
        co_return out;
    }
    out.result = co_await rrpc_.call(std::move(request));
    co_return out;
}

asio::awaitable<rrpc::async_calls::sent> local_router::send(std::uint64_t message_id,
                                                            rrpc::async_request request) {
    co_return async_.send(message_id, std::move(request));
}

asio::awaitable<local_router::published> local_router::publish(catalog::device_key device,
                                                               std::string topic,
                                                               std::string payload, bool reliably,
                                                               std::uint64_t message_id) {
    // QoS 0 at most once, as on the cloud: nothing waits for a subscription.
    const bool taken =
        reliably
            ? registry_.publish_reliably(device, message_id, std::move(topic), std::move(payload))
            : registry_.publish(device, topic, payload, std::chrono::milliseconds{0});
    co_return taken ? published::taken : published::refused;
}

asio::awaitable<void> local_router::withdraw(catalog::device_key device, std::uint64_t message_id) {
    registry_.withdraw(device, message_id);
    co_return;
}

void local_router::close(catalog::device_key device, bool forget) {
    registry_.disconnect(device, forget);
}

}  // namespace rrpcd::server
