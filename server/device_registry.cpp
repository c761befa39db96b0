#include "server/device_registry.hpp"

#include "kit/unix_ms.hpp"

namespace rrpcd::server {

device_registry::attachment::~attachment() {
    if (registry_ != nullptr) registry_->detach(*device_, *session_, how_);
}

device_registry::attachment device_registry::attach(const catalog::device_key& device,
                                                    live_session& session) {
    auto& e = devices_[device];
    auto* previous = e.session;
    if (previous == nullptr) ++online_;
    ++presence_changes_;
    e.session = &session;
    outbox_.session_ended(device);  // what the old session did not acknowledge goes out again
    if (on_session_change) on_session_change(device);
    if (on_status) {
        if (previous != nullptr)
            on_status(device, *previous, false, true, rrpc::presence::state::lost);
        on_status(device, session, true, false, rrpc::presence::state::connected);
    }
    if (previous != nullptr) previous->close(close_reason::takeover);
    return attachment{*this, device, session};
}

void device_registry::detach(const catalog::device_key& device, const live_session& session,
                             rrpc::presence::state how) {
    const auto it = devices_.find(device);
    if (it == devices_.end() || it->second.session != &session) return;  // taken over
    it->second.session = nullptr;
    ++presence_changes_;
    it->second.last_session = session.info(false);
    erase_held(it->second.waiting,
               [](const held_message&) { return true; });  // their calls end too
    if (const auto* kept = sessions_.left(device, kit::unix_ms()))
        journal_.session_saved(device, *kept, store::journal::urgency::lazy);
    it->second.last = rrpc::presence{how, rrpc::presence::clock::now(), session.keep_alive()};
    --online_;
    outbox_.session_ended(device);
    if (on_session_change) on_session_change(device);
    if (on_status) on_status(device, session, false, false, how);
    if (on_session_end) on_session_end(device, it->second.last);
}

rrpc::presence device_registry::presence_of(const catalog::device_key& device) const {
    const auto it = devices_.find(device);
    if (it == devices_.end()) return {};
    if (const auto* s = it->second.session)
        return rrpc::presence{rrpc::presence::state::connected, s->last_activity(),
                              s->keep_alive()};
    return it->second.last;
}

bool device_registry::publish(const catalog::device_key& device, std::string_view topic,
                              std::string_view payload, std::chrono::milliseconds hold,
                              std::uint64_t message_id) {
    const auto it = devices_.find(device);
    if (it == devices_.end() || it->second.session == nullptr) return false;
    if (it->second.session->deliver(topic, payload, mqtt::qos::at_most_once, 0, false) !=
        delivery::none)
        return true;
    auto& waiting = it->second.waiting;
    const auto now = std::chrono::steady_clock::now();
    erase_held(waiting, [&](const held_message& h) { return h.until <= now; });
    // Bounded in count and in bytes (the session's outbound limit): past either, it is not held.
    std::size_t bytes = payload.size();
    for (const auto& h : waiting) bytes += h.payload.size();
    if (hold.count() <= 0 || waiting.size() >= max_held ||
        bytes > settings_->mqtt.max_outbound_bytes)
        return false;
    waiting.push_back({std::string{topic}, std::string{payload}, now + hold, message_id});
    ++held_count_;
    held_bytes_ += payload.size();
    holding_.insert(device);
    log_->debug("event=held_for_subscription pk={} dn={} waiting={}", device.product_key,
                device.device_name, waiting.size());
    return true;
}

template <class Pred>
void device_registry::erase_held(std::vector<held_message>& waiting, Pred gone) {
    std::erase_if(waiting, [&](const held_message& h) {
        if (!gone(h)) return false;
        --held_count_;
        held_bytes_ -= h.payload.size();
        return true;
    });
    if (waiting.empty()) waiting.shrink_to_fit();
}

void device_registry::drop_held(const catalog::device_key& device, std::uint64_t message_id) {
    if (!holding_.contains(device)) return;
    const auto it = devices_.find(device);
    if (it == devices_.end()) return;
    erase_held(it->second.waiting,
               [&](const held_message& h) { return h.message_id == message_id; });
    if (it->second.waiting.empty()) holding_.erase(device);
}

void device_registry::drop_expired_held() {
    const auto now = std::chrono::steady_clock::now();
    for (auto d = holding_.begin(); d != holding_.end();) {
        const auto it = devices_.find(*d);
        if (it != devices_.end())
            erase_held(it->second.waiting, [&](const held_message& h) { return h.until <= now; });
        d = it == devices_.end() || it->second.waiting.empty() ? holding_.erase(d) : std::next(d);
    }
}

bool device_registry::ext_rrpc(const catalog::device_key& device) const {
    const auto it = devices_.find(device);
    return it != devices_.end() && it->second.session != nullptr && it->second.session->ext_rrpc();
}

bool device_registry::publish_reliably(const catalog::device_key& device, std::uint64_t message_id,
                                       std::string topic, std::string payload, bool call) {
    if (outbox_.full(device)) {
        if (counters_.hit(kit::limit::queued_messages_per_device))
            log_->warn(
                "event=limit_hit limit=queued_messages_per_device pk={} dn={} queued={} "
                "count={}",
                device.product_key, device.device_name, outbox_.size(device),
                counters_.count(kit::limit::queued_messages_per_device));
        return false;
    }
    rrpc::queued_message message{message_id, std::move(topic), std::move(payload)};
    message.call = call;
    journal_.message_accepted(device, message);
    outbox_.push(device, std::move(message));
    flush(device);
    return true;
}

void device_registry::withdraw(const catalog::device_key& device, std::uint64_t message_id) {
    if (outbox_.acknowledge(device, message_id)) journal_.message_done(device, message_id);
}

void device_registry::restore(const catalog::device_key& device, rrpc::queued_message message) {
    outbox_.restore(device, std::move(message));
}

std::optional<rrpc::session_info> device_registry::session_of(const catalog::device_key& device,
                                                              bool with_subscriptions) const {
    const auto it = devices_.find(device);
    if (it == devices_.end()) return std::nullopt;
    if (it->second.session != nullptr) return it->second.session->info(with_subscriptions);
    return it->second.last_session;
}

void device_registry::flush(const catalog::device_key& device) {
    const auto it = devices_.find(device);
    if (it == devices_.end() || it->second.session == nullptr) return;
    auto& waiting = it->second.waiting;
    if (!waiting.empty()) {
        const auto now = std::chrono::steady_clock::now();
        erase_held(waiting, [&](const held_message& h) {
            return h.until <= now ||
                   it->second.session->deliver(h.topic, h.payload, mqtt::qos::at_most_once, 0,
                                               false) != delivery::none;
        });
        if (waiting.empty()) holding_.erase(device);
    }
    if (outbox_.size(device) == 0) return;
    auto& queue = outbox_.queue(device);
    // A window, not the whole queue: the next message goes when a PUBACK frees a place, so a
    // long queue never overruns the session's outbound limit before its acks are read, and
    // packet ids are never exhausted.
    std::size_t in_flight = 0;
    std::size_t in_flight_bytes = 0;
    for (const auto& m : queue)
        if (m.sent) {
            ++in_flight;
            in_flight_bytes += m.payload.size();
        }
    const auto window_bytes = settings_->mqtt.max_outbound_bytes / 2;
    std::vector<std::uint64_t> done;  // delivered at QoS 0 (a QoS 0 subscription): no PUBACK
    auto& session = *it->second.session;
    for (auto& m : queue) {
        if (m.sent || m.awaiting_answer) continue;
        if (in_flight >= settings_->mqtt.max_inflight_messages ||
            (in_flight > 0 && in_flight_bytes + m.payload.size() > window_bytes))
            break;
        // Not in the burst after CONNACK: only once the device can take it (the session's
        // rule: a fresh subscription to its topic, or the session has settled).
        if (!session.may_take_queued(m.topic)) continue;
        const auto d = session.deliver(m.topic, m.payload, mqtt::qos::at_least_once, m.message_id,
                                       m.delivered);
        if (d == delivery::none) continue;
        if (!m.delivered && on_sent) on_sent(m.message_id);
        if (m.call && on_delivered) on_delivered(device, m.message_id, m.topic);
        m.delivered = true;
        if (d == delivery::qos1) {
            m.sent = true;
            ++in_flight;
            in_flight_bytes += m.payload.size();
        } else if (m.call) {
            m.awaiting_answer = true;  // its answer, not a PUBACK, says the device has it
        } else {
            done.push_back(m.message_id);  // at most once: what a QoS 0 subscription asked for
        }
    }
    for (const auto id : done)
        if (outbox_.acknowledge(device, id)) journal_.message_done(device, id);
}

const rrpc::kept_session* device_registry::login_session(const catalog::device_key& device,
                                                         bool clean) {
    const auto now = kit::unix_ms();
    if (clean) {
        if (sessions_.discard(device)) journal_.session_deleted(device);
        return nullptr;
    }
    if (const auto* kept = sessions_.resume(device, now)) {
        journal_.session_saved(device, *kept, store::journal::urgency::lazy);
        return kept;
    }
    sessions_.keep(device, {{}, now, true});
    journal_.session_saved(device, {{}, now, true}, store::journal::urgency::durable);
    return nullptr;
}

void device_registry::session_changed(const catalog::device_key& device,
                                      std::vector<std::pair<std::string, mqtt::qos>> filters) {
    // A SUBSCRIBE that changes nothing (a repeat, or every filter past the cap refused) costs
    // no write: a device flooding SUBSCRIBE cannot turn each packet into a store transaction.
    if (const auto* kept = sessions_.find(device); kept != nullptr && kept->filters == filters)
        return;
    rrpc::kept_session s{std::move(filters), kit::unix_ms(), true};
    journal_.session_saved(device, s, store::journal::urgency::durable);
    sessions_.keep(device, std::move(s));
}

void device_registry::restore_session(const catalog::device_key& device, rrpc::kept_session s) {
    s.online = false;
    sessions_.keep(device, std::move(s));
}

void device_registry::expire_sessions() {
    const auto gone = sessions_.expire(kit::unix_ms());
    for (const auto& device : gone) journal_.session_deleted(device);
    if (!gone.empty())
        log_->info("event=sessions_expired count={} expired_total={} kept={}", gone.size(),
                   sessions_.expired(), sessions_.size());
}

void device_registry::close_all() {
    for (auto& [device, e] : devices_)
        if (e.session != nullptr) e.session->close(close_reason::shutdown);
}

void device_registry::disconnect(const catalog::device_key& device, bool forget) {
    const auto it = devices_.find(device);
    if (it != devices_.end() && it->second.session != nullptr)
        it->second.session->close(close_reason::removed);
    if (!forget) return;
    outbox_.forget(device);
    if (sessions_.discard(device)) journal_.session_deleted(device);
}

void device_registry::kick(const catalog::device_key& device, std::uint64_t session) {
    const auto it = devices_.find(device);
    if (it != devices_.end() && it->second.session != nullptr &&
        it->second.session->serial() == session)
        it->second.session->close(close_reason::takeover);
}

void device_registry::claimed(const catalog::device_key& device, std::uint64_t session, bool ok) {
    const auto it = devices_.find(device);
    if (it != devices_.end() && it->second.session != nullptr &&
        it->second.session->serial() == session)
        it->second.session->claimed(ok);
}

void device_registry::for_each_live(
    const std::function<void(const catalog::device_key&, const live_session&)>& f) const {
    for (const auto& [device, e] : devices_)
        if (e.session != nullptr) f(device, *e.session);
}

void device_registry::acknowledged(const catalog::device_key& device, std::uint64_t message_id) {
    if (!outbox_.acknowledge(device, message_id)) return;
    journal_.message_done(device, message_id);
    if (on_acked) on_acked(message_id);
    flush(device);  // a place in the window is free
}

}  // namespace rrpcd::server
