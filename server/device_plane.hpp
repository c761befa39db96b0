#pragma once

#include "catalog/device_directory.hpp"
#include "catalog/login.hpp"
#include "catalog/thing_model.hpp"
#include "cluster/member.hpp"
#include "config/settings.hpp"
#include "fleet/fleet.hpp"
#include "kit/limit_counters.hpp"
#include "kit/log_throttle.hpp"
#include "rrpc/async_calls.hpp"
#include "rrpc/call_log.hpp"
#include "rrpc/message_id.hpp"
#include "rrpc/reply_hub.hpp"
#include "rrpc/router.hpp"
#include "rrpc/service.hpp"
#include "server/device_registry.hpp"
#include "server/local_router.hpp"
#include "server/mqtt_session.hpp"
#include "server/uplink.hpp"
#include "store/journal.hpp"

#include <spdlog/logger.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

namespace rrpcd::server {

/// What a device plane uses of its node: services safe from any thread.
struct plane_services {
    store::journal& journal;
    kit::limit_counters& counters;
    rrpc::call_log& calls;
    rrpc::reply_hub& replies;
    catalog::device_directory& devices;
    fleet::service& fleet;
    catalog::login_policy& login;
    const catalog::thing_models& models;
    catalog::property_values& properties;
    std::shared_ptr<spdlog::logger> mqtt_log, rrpc_log;
    kit::log_throttle& login_lines;  ///< refused logins' log lines, every plane's
    uplink_service& uplink;          ///< what devices send, to the server-side subscription
    cluster::member* cluster;        ///< cluster mode: presence records (else null)
};

/// One device plane: the live state of the devices whose home it is (rrpc::home_plane): their
/// sessions and kept sessions, pending and async calls, queued messages, and the MessageIds it
/// issues (its shard bits). Everything in it runs on its executor, one thread at a time: a
/// strand of the node's io_context when there are several planes, the io_context itself when
/// there is one (then nothing is locked or posted: the single-threaded server as before).
class device_plane {
public:
    device_plane(std::size_t index, std::size_t planes, boost::asio::io_context& io,
                 config::settings_ptr settings, const plane_services& node);
    device_plane(const device_plane&) = delete;
    device_plane& operator=(const device_plane&) = delete;

    std::size_t index() const noexcept { return index_; }
    const boost::asio::any_io_executor& executor() const noexcept { return executor_; }
    /// True when the caller runs on this plane now (always, with one plane).
    /// Synchronous work may touch this plane now: this thread is inside the plane's strand
    /// (perhaps nested in another strand's handler, which dispatched into it).
    bool here() const noexcept { return !strand_ || strand_->running_in_this_thread(); }
    /// A coroutine running on `ex` may touch this plane across its suspensions: `ex` is the
    /// plane's own executor. Not here(): a coroutine of another plane can be resumed inline
    /// inside this plane's strand (a co_spawn completing there dispatches to it), and what it
    /// started here would resume later on its own strand, beside this plane's thread.
    bool serves(const boost::asio::any_io_executor& ex) const noexcept {
        return !strand_ || ex == executor_;
    }

    config::settings_ptr settings;  ///< this plane's snapshot (a reload posts the next one)
    device_registry registry;
    rrpc::message_id_generator ids;
    rrpc::service rrpc;
    rrpc::async_calls async;
    local_router local;  ///< the router's messages, run here
    mqtt_context mqtt;

    /// Cluster mode, at start: the messages this plane restored from the store for devices
    /// with no session here go where the devices are (spill()): a node restarted after a crash
    /// hands its queues to the nodes its devices moved to.
    void spill_restored(cluster::member& cluster);

private:
    /// Cluster mode: the device's session here ended (not replaced by a login here): the QoS 1
    /// Pub messages still queued for it go where its next session will find them: parked in
    /// Redis, or to the node it is online on now (a takeover); each leaves this queue once taken
    /// there. What Redis does not take stays here (and on this node's disk).
    boost::asio::awaitable<void> spill(catalog::device_key device, cluster::member& cluster);

    std::size_t index_;
    std::optional<boost::asio::strand<boost::asio::io_context::executor_type>> strand_;
    boost::asio::any_io_executor executor_;
};

/// Runs the awaitable `work()` makes on `plane`: at once when the caller's coroutine runs on
/// that plane's executor, else spawned there and awaited (the caller resumes on its own
/// executor). `work` is called once.
template <class Plane, class Work>
auto on_plane(Plane& plane, Work work) -> decltype(work()) {
    const auto ex = co_await boost::asio::this_coro::executor;
    if (plane.serves(ex)) co_return co_await work();
    // Named first: GCC 12 mishandles a temporary built inside a co_await expression.
    auto there = boost::asio::co_spawn(plane.executor(), work(), boost::asio::use_awaitable);
    co_return co_await std::move(there);
}

/// The router of a node's planes: each message goes to its device's home plane and is run
/// there by its local router (a call in place when the caller is on that plane already).
class plane_router final : public rrpc::router {
public:
    explicit plane_router(const std::vector<std::unique_ptr<device_plane>>& planes)
        : planes_(planes) {}

    std::uint64_t next_id(const catalog::device_key& device) override;
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
    /// A call, an async call, a Pub made by the device's plane here, never forwarded (what
    /// another node forwarded).
    boost::asio::awaitable<call_outcome> call_here(rrpc::call_request request,
                                                   std::size_t max_pending);
    boost::asio::awaitable<rrpc::async_calls::sent> send_here(std::uint64_t message_id,
                                                              rrpc::async_request request);
    boost::asio::awaitable<published> publish_here(catalog::device_key device, std::string topic,
                                                   std::string payload, bool reliably,
                                                   std::uint64_t message_id);

    /// Cluster mode: devices without a live session here are reached through it.
    std::shared_ptr<cluster::member> cluster;

    device_plane& home(const catalog::device_key& device) const {
        return *planes_[rrpc::home_plane(device, planes_.size())];
    }
    /// Messages sent from another plane than their device's (the metrics).
    std::uint64_t hops() const noexcept { return hops_.load(std::memory_order_relaxed); }

private:
    /// The device has a live session on its plane here.
    boost::asio::awaitable<bool> live_here(const catalog::device_key& device);
    /// The links as the planes see them.
    boost::asio::awaitable<std::vector<rrpc::presence>> links_here(
        std::vector<catalog::device_key> devices);
    /// `links` with those not live here as the cluster sees them.
    boost::asio::awaitable<std::vector<rrpc::presence>> elsewhere(
        std::vector<catalog::device_key> devices, std::vector<rrpc::presence> links);
    /// The device's plane, counting the hop when the caller (a coroutine on `ex`) is elsewhere.
    device_plane& route(const catalog::device_key& device, const boost::asio::any_io_executor& ex) {
        auto& plane = home(device);
        if (!plane.serves(ex)) hops_.fetch_add(1, std::memory_order_relaxed);
        return plane;
    }
    const std::vector<std::unique_ptr<device_plane>>& planes_;
    std::atomic<std::uint64_t> hops_{0};
};

}  // namespace rrpcd::server
