#pragma once

#include "config/settings.hpp"
#include "store/journal.hpp"
#include "uplink/event.hpp"
#include "uplink/group_queue.hpp"

#include <spdlog/logger.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace rrpcd::server {

/// The server-side subscription: every device event goes to each consumer group that
/// subscribes to its kind and product, kept in the store under `amqp:{group}` until a consumer
/// accepts it (README "Server-side subscription"). Its groups and their consumers (the AMQP
/// sessions) live on one strand; publish() may be called from any thread.
class uplink_service {
public:
    /// `ex` is its strand. Without an AMQP listener configured it keeps nothing (publish()
    /// returns at once).
    uplink_service(boost::asio::any_io_executor ex, const config::amqp_settings& settings,
                   store::journal& journal, std::shared_ptr<spdlog::logger> log);
    ~uplink_service();
    uplink_service(const uplink_service&) = delete;
    uplink_service& operator=(const uplink_service&) = delete;

    /// Consumer groups are configured (an AMQP listener).
    bool enabled() const noexcept { return !groups_.empty(); }
    /// True when some group wants events of this kind and product (a caller may skip
    /// rendering a body nobody reads).
    bool wanted(uplink::kind k, std::string_view product_key) const noexcept;
    /// Any thread: a device's event for every group that wants it.
    void publish(uplink::event e);

    /// Start-up (before start()): a row of the store's delivery queue. False when `queue` is
    /// not a group's (`amqp:{id}`); a group no longer configured loses its rows (counted).
    static bool is_group_queue(std::string_view queue) noexcept;
    void restore(std::string_view queue, std::uint64_t id, std::int64_t queued_ms,
                 std::string_view stored);
    /// Starts the expiry (each second).
    void start();
    /// Any thread: events of `kinds` (names; none: all) and `products` (none: all) are also
    /// given to `tap`, on `where` (a webhook, a reply stream); never after unsubscribe()
    /// returned on that executor. Returns the token for unsubscribe().
    using tap_fn = std::function<void(const std::shared_ptr<const uplink::event>&)>;
    std::uint64_t subscribe(boost::asio::any_io_executor where, std::vector<std::string> kinds,
                            std::vector<std::string> products, tap_fn tap);
    void unsubscribe(std::uint64_t token);

    const boost::asio::any_io_executor& executor() const noexcept { return ex_; }

    // The strand only (the AMQP sessions):
    struct group;
    group* find(std::string_view id) noexcept;
    /// A consumer of `g`; `wake` is called (on the strand) when messages wait for it.
    std::uint64_t attach(group& g, std::function<void()> wake);
    /// The next message for consumer `c` of `g`, in flight to it; null when none waits.
    uplink::group_queue::message_ptr take(group& g, std::uint64_t c);
    void settle(group& g, std::uint64_t c, std::uint64_t id, uplink::group_queue::outcome o);
    /// Consumer `c` left: what it held goes to the others.
    void leave(group& g, std::uint64_t c);
    const std::string& id_of(const group& g) const noexcept;

    /// Per group, for the metrics (any thread: copied under no lock by the strand's own
    /// counters, read as atomics).
    struct group_figures {
        std::string id;
        std::uint64_t queued = 0, bytes = 0, consumers = 0, delivered = 0, accepted = 0,
                      redelivered = 0, refused = 0, expired = 0;
    };
    std::vector<group_figures> figures() const;

private:
    void deliver(const std::shared_ptr<const uplink::event>& e);
    /// Wakes the group's consumers, starting after the one woken first last time.
    void wake(group& g);
    boost::asio::awaitable<void> expire_loop();

    boost::asio::any_io_executor ex_;
    store::journal& journal_;
    std::shared_ptr<spdlog::logger> log_;
    std::vector<std::unique_ptr<group>> groups_;
    struct tap_entry {
        boost::asio::any_io_executor where;
        config::amqp_group filter;           ///< its kinds and products
        std::shared_ptr<const tap_fn> call;  ///< the service's reference; handlers hold weak ones
    };
    mutable std::mutex taps_mutex_;
    std::map<std::uint64_t, tap_entry> taps_;
    std::uint64_t next_tap_ = 1;
    std::atomic<std::uint64_t> orphaned_{0};
};

}  // namespace rrpcd::server
