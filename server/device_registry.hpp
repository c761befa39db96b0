#pragma once

#include "catalog/device_key.hpp"
#include "config/settings.hpp"
#include "kit/limit_counters.hpp"
#include "rrpc/kept_sessions.hpp"
#include "rrpc/outbox.hpp"
#include "rrpc/presence.hpp"
#include "rrpc/service.hpp"
#include "server/live_session.hpp"
#include "store/journal.hpp"

#include <spdlog/logger.h>
#include <chrono>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace rrpcd::server {

/// Which session is each device's live one, and what is known of devices that left.
/// Implements the RRPC core's view of devices. io thread only.
class device_registry final : public rrpc::device_gateway {
public:
    /// At most `settings.max_queued_messages` QoS 1 messages wait for one device (more are
    /// refused), `settings.max_inflight_messages` of them in flight; `journal` keeps them
    /// across a restart. A full queue counts in `counters` and logs to `log`.
    /// `settings` is its plane's current snapshot (read at each use: a reload applies to the
    /// next message).
    device_registry(store::journal& journal, const config::settings_ptr& settings,
                    kit::limit_counters& counters, std::shared_ptr<spdlog::logger> log)
        : journal_(journal),
          settings_(settings),
          counters_(counters),
          log_(std::move(log)),
          outbox_(settings->mqtt.max_queued_messages),
          sessions_(settings->mqtt.session_expiry) {}

    /// Start-up: a message the journal kept from before (in acceptance order).
    void restore(const catalog::device_key& device, rrpc::queued_message message);
    void withdraw(const catalog::device_key& device, std::uint64_t message_id) override;

    /// A session's place as its device's live one, held for as long as the session serves:
    /// leaving it (on every path, an exception included) detaches the session. If it is still
    /// the device's live session, the device's presence becomes `ended()`'s (lost unless said
    /// otherwise) and on_session_end is told; after a takeover nothing changes.
    class attachment {
    public:
        /// `device` must outlive the attachment (the session's own copy does).
        attachment(device_registry& registry, const catalog::device_key& device,
                   live_session& session)
            : registry_(&registry), device_(&device), session_(&session) {}
        attachment(attachment&& other) noexcept
            : registry_(std::exchange(other.registry_, nullptr)),
              device_(other.device_),
              session_(other.session_),
              how_(other.how_) {}
        attachment& operator=(attachment&&) = delete;
        ~attachment();
        /// How the session ended (left_cleanly after DISCONNECT; lost otherwise).
        void ended(rrpc::presence::state how) noexcept { how_ = how; }

    private:
        device_registry* registry_;
        const catalog::device_key* device_;
        live_session* session_;
        rrpc::presence::state how_ = rrpc::presence::state::lost;
    };

    /// Makes `session` the device's live session; a session it takes over from is closed
    /// (close_reason::takeover). `device` must outlive the attachment.
    [[nodiscard]] attachment attach(const catalog::device_key& device, live_session& session);

    /// Told when a device's live session ends (the RRPC core resolves its pending calls).
    std::function<void(const catalog::device_key&, const rrpc::presence&)> on_session_end;

    rrpc::presence presence_of(const catalog::device_key& device) const override;
    bool publish(const catalog::device_key& device, std::string_view topic,
                 std::string_view payload, std::chrono::milliseconds hold,
                 std::uint64_t message_id = 0) override;
    void drop_held(const catalog::device_key& device, std::uint64_t message_id) override;
    /// Drops held QoS 0 messages whose hold has passed (each second: they go even when their
    /// device never subscribes, nor leaves).
    void drop_expired_held();
    /// QoS 0 messages held for a subscription, and their bytes (the metrics).
    std::size_t held() const noexcept { return held_count_; }
    std::size_t held_bytes() const noexcept { return held_bytes_; }
    bool ext_rrpc(const catalog::device_key& device) const override;
    bool publish_reliably(const catalog::device_key& device, std::uint64_t message_id,
                          std::string topic, std::string payload, bool call = false) override;
    void answered(const catalog::device_key& device, std::uint64_t message_id) override {
        acknowledged(device, message_id);
    }
    /// Sends what waits for the device and its live session now subscribes to: QoS 0 messages
    /// held for a subscription, then queued QoS 1 messages (a window of them).
    void flush(const catalog::device_key& device);
    /// The device acknowledged the QoS 1 message `message_id`.
    void acknowledged(const catalog::device_key& device, std::uint64_t message_id);
    /// QoS 1 messages waiting for (or in flight to) the device.
    std::size_t queued(const catalog::device_key& device) const noexcept {
        return outbox_.size(device);
    }

    /// Closes every live session (server shutdown).
    void close_all();
    /// Closes the device's live session (deleted or disabled); its queued messages stay unless
    /// `forget` (deleted).
    void disconnect(const catalog::device_key& device, bool forget);
    /// Another node's login took the device over: its live session closes if it is still
    /// `session` (a later login here is left alone).
    void kick(const catalog::device_key& device, std::uint64_t session);
    /// Cluster mode: the login of session `session` has its presence record (or not, `ok`):
    /// told to that session if it is still the device's live one.
    void claimed(const catalog::device_key& device, std::uint64_t session, bool ok);
    /// Calls `f(device, session)` for each live session (the cluster re-asserts them).
    void for_each_live(
        const std::function<void(const catalog::device_key&, const live_session&)>& f) const;

    /// Devices with a live session.
    std::size_t online() const noexcept { return online_; }
    /// Logins and session ends since start (the console reloads its list when it moves).
    std::uint64_t presence_changes() const noexcept { return presence_changes_; }
    /// The live session's info (its subscriptions if asked), or the last one's without them
    /// once it ended; nullopt when the device had no session since start.
    std::optional<rrpc::session_info> session_of(const catalog::device_key& device,
                                                 bool with_subscriptions) const;
    /// The QoS 1 messages waiting for (or in flight to) the device, oldest first; nullptr
    /// when none.
    /// The devices QoS 1 messages wait for.
    std::vector<catalog::device_key> queued_devices() const { return outbox_.devices(); }
    const std::deque<rrpc::queued_message>* queued_messages(
        const catalog::device_key& device) const {
        return outbox_.find(device);
    }
    /// Told when a queued QoS 1 message is first written to a session (its call's timeline).
    std::function<void(std::uint64_t message_id)> on_sent;
    /// A queued message's PUBACK came (the call log's timeline shows it).
    std::function<void(std::uint64_t message_id)> on_acked;
    /// Told of every write of a queued async call's request to a session, redeliveries
    /// included, in order (answers without an id are matched to these writes).
    std::function<void(const catalog::device_key&, std::uint64_t message_id,
                       std::string_view topic)>
        on_delivered;
    /// Told when a device goes online (`online`, at its login) or offline (its live session
    /// ended: `taken_over` by a new login, or `how`), with the session (the uplink's status).
    std::function<void(const catalog::device_key&, const live_session&, bool online,
                       bool taken_over, rrpc::presence::state how)>
        on_status;
    /// Told when a device's live session changes (a login, a takeover, an end): what the old
    /// session was sent is no longer answered in its order.
    std::function<void(const catalog::device_key&)> on_session_change;

    /// A login of `device` (attached): with clean=0 the session it resumes (nullptr when it
    /// starts a new one, then kept from now on); with clean=1 a kept one is discarded.
    const rrpc::kept_session* login_session(const catalog::device_key& device, bool clean);
    /// A clean=0 session's subscriptions are now `filters` (written to the store at once).
    void session_changed(const catalog::device_key& device,
                         std::vector<std::pair<std::string, mqtt::qos>> filters);
    /// Start-up: a clean=0 session the store kept.
    void restore_session(const catalog::device_key& device, rrpc::kept_session s);
    /// Forgets the sessions past `mqtt.session_expiry_s` without a login; logs and counts.
    void expire_sessions();
    const rrpc::kept_sessions& sessions() const noexcept { return sessions_; }
    /// The store's writer is behind (store.max_queue_bytes): keep nothing more an outsider asks.
    bool store_busy() const noexcept { return journal_.busy(); }

private:
    /// The attachment's end: see attachment.
    void detach(const catalog::device_key& device, const live_session& session,
                rrpc::presence::state how);

    /// A QoS 0 message waiting for a subscription of the live session.
    struct held_message {
        std::string topic;
        std::string payload;
        std::chrono::steady_clock::time_point until;
        std::uint64_t message_id = 0;
    };
    /// Removes the entries of `waiting` that `gone` selects, keeping the counts.
    template <class Pred>
    void erase_held(std::vector<held_message>& waiting, Pred gone);
    /// At most this many QoS 0 messages wait per device, and at most mqtt.max_outbound_bytes of
    /// them (a sync call's are bounded by rrpc.max_pending_per_device before that).
    static constexpr std::size_t max_held = 256;
    struct entry {
        live_session* session = nullptr;
        rrpc::presence last;                ///< valid when session is null
        std::vector<held_message> waiting;  ///< for a subscription; only while a session is live
        std::optional<rrpc::session_info> last_session{};  ///< when session is null
    };
    std::unordered_map<catalog::device_key, entry, catalog::device_key_hash> devices_;
    /// The devices with held messages (the sweep looks at them only).
    std::unordered_set<catalog::device_key, catalog::device_key_hash> holding_;
    std::size_t held_count_ = 0, held_bytes_ = 0;
    std::size_t online_ = 0;
    std::uint64_t presence_changes_ = 0;
    store::journal& journal_;
    const config::settings_ptr& settings_;
    kit::limit_counters& counters_;
    std::shared_ptr<spdlog::logger> log_;
    rrpc::outbox outbox_;
    rrpc::kept_sessions sessions_;
};

}  // namespace rrpcd::server
