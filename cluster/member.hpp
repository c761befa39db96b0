#pragma once

#include "catalog/device_key.hpp"
#include "cluster/envelope.hpp"
#include "cluster/figures.hpp"
#include "cluster/redis.hpp"
#include "config/settings.hpp"
#include "rrpc/outbox.hpp"
#include "rrpc/router.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/result.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace rrpcd::cluster {

/// This node as a member of a cluster of nodes sharing one Redis: its slot (the MessageId's
/// node bits) held by a lease with a fencing epoch, its devices' presence records, its inbox
/// (calls forwarded to it, outcomes of calls it forwarded, kicks), and the calls it forwarded.
/// Everything here runs on its strand; the server gives it what to do with what comes
/// (serve_call, kick) and is told when the slot is lost (the node exits) or claimed again.
class member : public std::enable_shared_from_this<member> {
public:
    member(boost::asio::io_context& io, const config::cluster_settings& settings,
           std::string holder, std::shared_ptr<spdlog::logger> log);

    /// Start-up: connects (waiting at most `wait` for Redis) and claims the configured slot,
    /// else `remembered` when free (-1: none), else the lowest free one. The slot, or why none.
    boost::asio::awaitable<boost::system::result<std::uint32_t, std::string>> join(
        std::chrono::milliseconds wait, int remembered);
    /// After join(): renews the slot every lease/3.
    void start();
    /// Gives the slot up (a clean shutdown), then closes the connections.
    boost::asio::awaitable<void> leave();
    /// The liveness of each of `devices` by their records, in one round trip (nullopt: Redis
    /// does not answer).
    boost::asio::awaitable<std::optional<std::vector<rrpc::liveness>>> liveness_of(
        std::vector<catalog::device_key> devices);

    std::uint32_t node() const noexcept { return node_; }
    /// Redis answers (both connections ready): logins and remote calls may proceed.
    /// Redis answers: both connections are up, its last command was answered (a hung Redis
    /// times out), and the slot was renewed within its lease (a node cut off longer holds a slot
    /// another node may have taken).
    bool reachable() const noexcept;

    /// Runs a call forwarded here (the node's own router, on the device's plane).
    std::function<boost::asio::awaitable<rrpc::router::call_outcome>(rrpc::call_request,
                                                                     std::size_t max_pending)>
        serve_call;
    /// Closes the device's session `session` here (0: whichever; `forget`: its queue too).
    std::function<void(const catalog::device_key&, std::uint64_t session, bool forget)> kick;
    /// The slot was claimed again after it lapsed (Redis restarted or failed over): the node
    /// re-asserts its live sessions (online()).
    std::function<void()> on_reclaimed;
    /// The slot is another node's now, or this process was stopped past its lease: it must
    /// not serve on (the node exits; a supervisor restarts it).
    std::function<void(const std::string& why)> on_lost;

    /// A session of `device` went online here (a login; `reassert`: a live session written
    /// again after the slot was claimed again, which yields to a session on another live
    /// node: kick() closes it here), or ended.
    /// `claimed` (a login's): told on the member's strand once the record is this session's
    /// and a session the device still had on another node was told to close (true), or when
    /// Redis did not take it (false): the login's CONNACK waits for it.
    void online(const catalog::device_key& device, std::uint64_t session,
                std::chrono::seconds keep_alive, bool reassert = false,
                std::function<void(bool)> claimed = {});
    void offline(const catalog::device_key& device, std::uint64_t session, bool cleanly);

    /// A call to a device with no live session here: routed to its owner by its presence
    /// record. `unavailable` when Redis does not answer (nothing was sent).
    boost::asio::awaitable<rrpc::router::call_outcome> call(rrpc::call_request request,
                                                            std::size_t max_pending);
    /// How a message relayed to a device's owner went: not sent (Redis did not answer; or the
    /// record says offline or half-connected), or sent, with the owner's outcome (none: `code`
    /// says why: its node died (HALFCONN), its inbox was lost (UNKNOWN), no answer in time).
    struct relayed {
        enum class place : std::uint8_t { unavailable, offline, halfconn, sent };
        place where = place::unavailable;
        std::optional<outcome_envelope> outcome;
        rrpc::rrpc_code code = rrpc::rrpc_code::unknown;
    };
    /// An async call or a Pub for a device with no live session here, made by its owner when its
    /// record says it is online on another node.
    boost::asio::awaitable<relayed> send(send_envelope e);
    /// Runs an async call or a Pub forwarded here (outcome: see send_envelope).
    std::function<boost::asio::awaitable<outcome_envelope>(send_envelope)> serve_send;

    /// Parks a QoS 1 Pub for a device online nowhere (its record says so), for its next login
    /// on any node (at most `max` per device).
    enum class parking : std::uint8_t { parked, online, full, unavailable };
    boost::asio::awaitable<parking> park(catalog::device_key device, rrpc::queued_message message,
                                         std::size_t max);
    /// The messages parked for a device that just logged in here (its record is its session's
    /// now: nothing more is parked), oldest first: the node queues them, and once they are on
    /// its disk drops the first `taken` (drop_parked()). Told on the member's strand.
    std::function<void(const catalog::device_key&, std::vector<rrpc::queued_message>)> on_parked;
    void drop_parked(const catalog::device_key& device, std::size_t taken);

    /// The device's liveness by its presence record (nullopt: Redis does not answer).
    boost::asio::awaitable<std::optional<rrpc::liveness>> liveness(catalog::device_key device);
    /// Closes the device's session wherever it is (deleted or disabled).
    void close(const catalog::device_key& device, bool forget);

    member_figures figures() const;

    /// Runs one command for the shared store (any thread), counted.
    boost::asio::awaitable<redis_connection::result> command(purpose why,
                                                             std::vector<std::string> argv);
    /// Each message on the catalog's channel (`rrpcd:catalog`: what changed), on the inbox's
    /// strand; and, after the inbox connection was lost and is back, `on_catalog_gap` (changes
    /// may have been missed: the catalog is read again).
    std::function<void(std::string_view)> on_catalog;
    std::function<void()> on_catalog_gap;
    /// Tells every node an async answer matched here (`rrpcd:replies`: their reply streams get
    /// it), and each one told (this node's own included: on_reply checks the origin).
    void share_reply(std::string bytes);
    std::function<void(std::string_view)> on_reply;

private:
    struct forwarded;
    /// Runs `argv` (an EVAL of one of scripts::), counted by `why`; a script error is logged.
    boost::asio::awaitable<redis_connection::result> eval(purpose why,
                                                          std::vector<std::string> argv);
    boost::asio::awaitable<rrpc::router::call_outcome> forward(rrpc::call_request request,
                                                               std::size_t max_pending);
    boost::asio::awaitable<void> renew_loop();
    boost::asio::awaitable<void> renew();
    boost::asio::awaitable<void> run_leave();
    /// Each live session written again (after a reconnection or a re-claimed slot), and the
    /// ends Redis did not take.
    void reassert();
    void mark_renewed();
    boost::asio::awaitable<void> watch_peers();
    boost::asio::awaitable<void> serve(call_envelope call);
    boost::asio::awaitable<void> serve_sending(send_envelope e);
    /// A served message's outcome before it is made (UNKNOWN), counted.
    outcome_envelope answer_to(std::uint64_t ticket, std::uint64_t message_id);
    boost::asio::awaitable<relayed> forward_send(send_envelope e);
    /// Sends `bytes` (an envelope with `ticket`) to the device's owner by its record and waits
    /// at most `wait` for the outcome.
    boost::asio::awaitable<relayed> relay(catalog::device_key device, std::uint64_t ticket,
                                          std::string bytes, std::chrono::milliseconds wait);
    boost::asio::awaitable<void> publish(std::uint32_t node, std::string bytes);
    /// A login's parked messages to on_parked.
    boost::asio::awaitable<void> take_parked(const catalog::device_key& device);
    void counted(purpose why, bool answered);
    void on_inbox(std::string_view bytes);
    /// Subscribes the inbox, and what the connections tell this object.
    void listen();
    void lose(const std::string& why);

    boost::asio::io_context& io_;
    config::cluster_settings settings_;
    std::string holder_;
    std::shared_ptr<spdlog::logger> log_;
    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    std::shared_ptr<redis_connection> commands_, inbox_;
    std::uint32_t node_ = 0;
    std::string epoch_;  ///< the slot's fencing epoch, as Redis spells it
    boost::asio::steady_timer renew_timer_;
    std::chrono::steady_clock::time_point last_woke_{};
    std::atomic<std::int64_t> renewed_ms_{0};  ///< the last renewal (steady clock, ms; reachable())
    bool renew_now_ = false, stopping_ = false, lost_ = false;
    /// From a random start: a restarted process on the same slot (the same inbox) cannot take
    /// an outcome meant for its predecessor's call.
    std::uint64_t next_ticket_;
    /// Presence ends Redis did not take (down, hung): written again once it answers.
    std::unordered_map<catalog::device_key, std::pair<std::uint64_t, bool>,
                       catalog::device_key_hash>
        unwritten_ends_;
    std::unordered_map<std::uint64_t, std::shared_ptr<forwarded>> forwarded_;
    bool watching_ = false;
    std::atomic<bool> answering_{true};
    mutable std::mutex figures_mutex_;  ///< the metrics read figures_ from another thread
    member_figures figures_;
};

}  // namespace rrpcd::cluster
