#include "server/mqtt_session.hpp"
#include "kit/logfmt.hpp"
#include "kit/unix_ms.hpp"
#include "kit/use_nothrow.hpp"

#include "catalog/device_auth.hpp"
#include "kit/printable.hpp"
#include "mqtt/codec.hpp"
#include "mqtt/errc.hpp"
#include "mqtt/topic.hpp"
#include "rrpc/alink_upstream.hpp"
#include "rrpc/router.hpp"
#include "rrpc/topics.hpp"
#include "server/device_registry.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <atomic>

namespace rrpcd::server {

namespace asio = boost::asio;

std::uint64_t mqtt_session::next_serial() noexcept {
    static std::atomic<std::uint64_t> count{0};
    return count.fetch_add(1, std::memory_order_relaxed) + 1;
}

namespace {

constexpr std::chrono::seconds flush_bound{2};  ///< how long a closing session may flush

std::string_view to_string(std::uint8_t why) noexcept {
    constexpr std::string_view names[] = {"none",     "disconnect", "lost",     "violation",
                                          "refused",  "keep_alive", "takeover", "slow_reader",
                                          "shutdown", "removed"};
    return why < std::size(names) ? names[why] : "?";
}

asio::ip::tcp::endpoint remote_of(const asio::ip::tcp::socket& s) {
    boost::system::error_code ec;
    return s.remote_endpoint(ec);
}

std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
    return ep.address().to_string() + ":" + std::to_string(ep.port());
}

constexpr std::size_t tls_read_size = 4096;  ///< OpenSSL buffers whole records itself

}  // namespace

mqtt_session::mqtt_session(asio::ip::tcp::socket socket, mqtt_context& ctx, tls_context tls,
                           kit::connection_slot slot)
    : slot_(std::move(slot)),
      socket_(std::move(socket)),
      ctx_(&ctx),
      tls_context_(std::move(tls)),
      protocol_(ctx.settings->mqtt.max_packet_size, clock::now()),
      wake_(socket_.get_executor(), clock::time_point::max()),
      deadline_(socket_.get_executor()),
      hold_(socket_.get_executor(), clock::time_point::max()),
      accepted_at_(clock::now()),
      address_(remote_of(socket_).address()),
      peer_(endpoint_text(remote_of(socket_))) {
    boost::system::error_code ec;
    socket_.set_option(asio::ip::tcp::no_delay{true}, ec);
    if (tls_context_) {
        tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *tls_context_);
        tls_buffer_.resize(tls_read_size);
    }
}

asio::awaitable<void> mqtt_session::run() {
    // One group of three, not `read_loop() || write_loop() || watchdog()`: each `||` is one more
    // coroutine and group, about 1.4 KB that every idle device would hold. As with `||`, the
    // first loop to end without an exception cancels the other two.
    // On the executor run() was spawned on: its device plane's.
    const auto ex = co_await asio::this_coro::executor;
    auto loops =
        asio::experimental::make_parallel_group(asio::co_spawn(ex, read_loop(), asio::deferred),
                                                asio::co_spawn(ex, write_loop(), asio::deferred),
                                                asio::co_spawn(ex, watchdog(), asio::deferred));
    const auto [order, e0, e1, e2] =
        co_await loops.async_wait(asio::experimental::wait_for_one_success(), asio::use_awaitable);
    if (const std::exception_ptr ends[] = {e0, e1, e2}; ends[order[0]])
        std::rethrow_exception(ends[order[0]]);
    boost::system::error_code ec;
    socket_.close(ec);
    if (!device_) co_return;
    if (attachment_)
        attachment_->ended(ending_ == ending::disconnect ? rrpc::presence::state::left_cleanly
                                                         : rrpc::presence::state::lost);
    attachment_.reset();  // detaches now (and on every other path, when the frame goes)
    ctx_->log->info("event=device_offline pk={} dn={} peer={} reason={}", device_->product_key,
                    device_->device_name, peer_, to_string(static_cast<std::uint8_t>(ending_)));
}

asio::awaitable<void> mqtt_session::read_loop() {
    auto& partial = partial_;  // the start of a frame not yet whole (greet() may have read some)
    bool greeted = !partial.empty();
    std::vector<mqtt::protocol_event> events;
    boost::system::error_code ec;
    socket_.non_blocking(true, ec);
    if (tls_ && !handshaken_) {
        const auto [hec] =
            co_await tls_->async_handshake(asio::ssl::stream_base::server, kit::use_nothrow);
        if (hec) {
            ctx_->log->info("event=tls_handshake_failed peer={} reason={}", peer_,
                            kit::logfmt_value(hec.message()));
            ending_ = ending::violation;
            co_return;
        }
        handshaken_ = true;
    }
    while (ending_ == ending::none) {
        // The next bytes, read here rather than in a nested coroutine (its frame would be one
        // more allocation per read, and held by every idle device).
        std::span<const std::uint8_t> data;
        if (greeted) {  // what greet() read, on the plane it was accepted on, comes first
            greeted = false;
            data = partial;
        } else if (tls_) {
            const auto [rec, n] =
                co_await tls_->async_read_some(asio::buffer(tls_buffer_), kit::use_nothrow);
            ec = rec;
            data = {tls_buffer_.data(), n};
        } else {
            // Wait without a buffer, then read into the shared one: no co_await until the bytes
            // are consumed, so an idle device holds no buffer.
            const auto [wec] =
                co_await socket_.async_wait(asio::ip::tcp::socket::wait_read, kit::use_nothrow);
            ec = wec;
            const auto n = wec ? 0 : socket_.read_some(asio::buffer(ctx_->scratch), ec);
            if (ec == asio::error::would_block) continue;
            data = {ctx_->scratch.data(), n};
        }
        if (ec || data.empty()) {
            if (ending_ == ending::none) ending_ = ending::lost;
            co_return;
        }
        ctx_->traffic.bytes_in.fetch_add(data.size(), std::memory_order_relaxed);
        if (!partial.empty() && data.data() != partial.data()) {
            partial.insert(partial.end(), data.begin(), data.end());
            data = partial;
        }
        std::size_t offset = 0;
        while (ending_ == ending::none) {
            const auto consumed =
                protocol_.feed(data.subspan(offset), clock::now(), events, outbox_);
            offset += consumed;
            for (auto& e : events) handle(e);
            events.clear();
            // The protocol refused the CONNECT by itself (its level, an empty client id):
            // CONNACK is queued, then the connection closes [MQTT-3.1.2-2].
            if (protocol_.current_state() == mqtt::server_protocol::state::closed)
                finish(ending::refused);
            if (consumed == 0) break;
        }
        // What the protocol answered by itself (PINGRESP, PUBACK, SUBACK…) counts too: a client
        // that floods PINGREQ and never reads is a slow reader like any other.
        over_outbound_limit(0);
        if (partial.empty()) {
            partial.assign(data.begin() + static_cast<std::ptrdiff_t>(offset), data.end());
        } else {
            partial.erase(partial.begin(), partial.begin() + static_cast<std::ptrdiff_t>(offset));
            if (partial.empty()) partial.shrink_to_fit();  // a big frame's buffer is not kept
        }
        wake_writer();
    }
    co_await hold_.async_wait(kit::use_nothrow);  // the writer flushes and ends the session
}

asio::awaitable<void> mqtt_session::write_loop() {
    std::vector<std::uint8_t> writing;
    for (;;) {
        if (outbox_.empty() || (claiming_ && ending_ == ending::none)) {
            if (ending_ != ending::none) co_return;  // flushed
            wake_.expires_at(clock::time_point::max());
            co_await wake_.async_wait(kit::use_nothrow);
            continue;
        }
        writing.clear();
        std::swap(writing, outbox_);
        // Named first: GCC 12 mishandles a temporary built inside a co_await expression.
        auto write = tls_ ? asio::async_write(*tls_, asio::buffer(writing), kit::use_nothrow)
                          : asio::async_write(socket_, asio::buffer(writing), kit::use_nothrow);
        const auto [ec, n] = co_await std::move(write);
        ctx_->traffic.bytes_out.fetch_add(n, std::memory_order_relaxed);
        if (ec) {
            if (ending_ == ending::none) ending_ = ending::lost;
            co_return;
        }
    }
}

asio::awaitable<void> mqtt_session::watchdog() {
    for (;;) {
        const auto now = clock::now();
        clock::time_point due;
        if (ending_ != ending::none)
            due = closing_since_ + flush_bound;
        else if (protocol_.current_state() != mqtt::server_protocol::state::connected)
            due = accepted_at_ + ctx_->settings->mqtt.connect_timeout;
        else
            due = protocol_.keep_alive_deadline().value_or(clock::time_point::max());
        if (ending_ == ending::none && !settled_) {
            if (now >= settle_at_) {
                settle();
                continue;
            }
            due = std::min(due, settle_at_);
        }
        if (now >= due) break;
        deadline_.expires_at(due);
        co_await deadline_.async_wait(kit::use_nothrow);
    }
    if (ending_ == ending::none) {
        const bool connected = protocol_.current_state() == mqtt::server_protocol::state::connected;
        ending_ = connected ? ending::keep_alive : ending::violation;
        if (connected)
            ctx_->log->info("event=keep_alive_expired peer={}", peer_);
        else if (ctx_->counters.hit(kit::limit::mqtt_connect_timeout))
            ctx_->log->info("event=limit_hit limit=mqtt_connect_timeout peer={} count={}", peer_,
                            ctx_->counters.count(kit::limit::mqtt_connect_timeout));
    }
}

void mqtt_session::finish(ending why) {
    if (ending_ != ending::none) return;
    ending_ = why;
    closing_since_ = clock::now();
    deadline_.cancel();  // the watchdog now bounds the flush
    wake_writer();
}

bool mqtt_session::over_outbound_limit(std::size_t adding) {
    if (outbox_.size() + adding <= ctx_->settings->mqtt.max_outbound_bytes) return false;
    if (ending_ == ending::none && ctx_->counters.hit(kit::limit::mqtt_outbound_queue))
        ctx_->log->warn(
            "event=limit_hit limit=mqtt_outbound_queue pk={} dn={} peer={} queued_bytes={} "
            "count={}",
            device_ ? device_->product_key : "-", device_ ? device_->device_name : "-", peer_,
            outbox_.size(), ctx_->counters.count(kit::limit::mqtt_outbound_queue));
    finish(ending::slow_reader);
    return true;
}

void mqtt_session::wake_writer() {
    wake_.cancel();
}

void mqtt_session::claimed(bool ok) {
    if (!std::exchange(claiming_, false)) return;
    if (!ok && ending_ == ending::none && outbox_.size() >= 4 && outbox_[0] == 0x20) {
        // Redis did not take the record: the CONNACK queued first (not yet written) says 3,
        // and nothing after it goes.
        outbox_.resize(4);
        outbox_[2] = 0;  // no session present with a refusal [MQTT-3.2.2-4]
        outbox_[3] = static_cast<std::uint8_t>(mqtt::connect_return_code::server_unavailable);
        const auto n = ++ctx_->login_refused["cluster_unavailable"];
        if ((n & (n - 1)) == 0)
            ctx_->log->warn("event=login_refused reason=cluster_unavailable code=3 count={}", n);
        finish(ending::refused);
    }
    wake_writer();
}

void mqtt_session::close(close_reason why) {
    if (why == close_reason::takeover)
        ctx_->log->info("event=session_taken_over pk={} dn={} peer={}", device_->product_key,
                        device_->device_name, peer_);
    finish(why == close_reason::takeover   ? ending::takeover
           : why == close_reason::shutdown ? ending::shutdown
                                           : ending::removed);
    hold_.cancel();  // the reader may be parked; it stops either way
    boost::system::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_receive, ec);
}

void mqtt_session::handle(mqtt::protocol_event& event) {
    if (auto* e = std::get_if<mqtt::event::message>(&event)) return on_publish(e->publish);
    if (auto* e = std::get_if<mqtt::event::connect_request>(&event)) return on_connect(e->connect);
    if (auto* e = std::get_if<mqtt::event::subscribe_request>(&event))
        return on_subscribe(e->subscribe);
    if (auto* e = std::get_if<mqtt::event::unsubscribe_request>(&event))
        return on_unsubscribe(e->unsubscribe);
    if (std::holds_alternative<mqtt::event::disconnected>(event)) return finish(ending::disconnect);
    if (auto* e = std::get_if<mqtt::event::violation>(&event)) return on_violation(e->reason);
    if (auto* e = std::get_if<mqtt::event::acknowledged>(&event)) {
        if (const auto message_id = state_.acknowledged(e->packet_id))
            ctx_->registry.acknowledged(*device_, *message_id);
    }
}

void mqtt_session::on_violation(const boost::system::error_code& reason) {
    if (reason == mqtt::errc::packet_too_large) {
        if (ctx_->counters.hit(kit::limit::mqtt_packet_size))
            ctx_->log->info("event=limit_hit limit=mqtt_packet_size peer={} count={}", peer_,
                            ctx_->counters.count(kit::limit::mqtt_packet_size));
    } else {
        ctx_->log->info("event=protocol_violation peer={} reason={}", peer_,
                        kit::logfmt_value(reason.message()));
    }
    finish(ending::violation);
}

void mqtt_session::on_connect(const mqtt::connect& c) {
    const auto verdict =
        ctx_->login.check(c, ctx_->devices, address_, clock::now(), ctx_->settings->mqtt);
    if (!verdict.accepted()) {
        if (verdict.reason == "backoff") {
            if (ctx_->counters.hit(kit::limit::mqtt_login_backoff))
                ctx_->log->warn(
                    "event=limit_hit limit=mqtt_login_backoff address={} username={} "
                    "count={}",
                    address_.to_string(), kit::logfmt_value(c.username.value_or(""), 80),
                    ctx_->counters.count(kit::limit::mqtt_login_backoff));
        } else if (const auto suppressed =
                       ctx_->refusal_lines.allow(address_.to_string(), clock::now())) {
            ctx_->log->info(
                "event=login_refused peer={} client_id={} code={} reason={}{}", peer_,
                kit::logfmt_value(c.client_id, 128), static_cast<int>(verdict.code), verdict.reason,
                *suppressed ? " suppressed_before=" + std::to_string(*suppressed) : std::string{});
        }
        ++ctx_->login_refused[std::string{verdict.reason}];
        protocol_.refuse(verdict.code, outbox_);
        return finish(ending::refused);
    }
    if (ctx_->cluster != nullptr && !ctx_->cluster->reachable()) {
        // Its presence could not be recorded: another node could not reach it, nor it take over.
        // Logged the 1st, 2nd, 4th… time (per plane): an outage must not flood the log.
        const auto n = ++ctx_->login_refused["cluster_unavailable"];
        if ((n & (n - 1)) == 0)
            ctx_->log->warn("event=login_refused reason=cluster_unavailable code=3 count={}", n);
        protocol_.refuse(mqtt::connect_return_code::server_unavailable, outbox_);
        return finish(ending::refused);
    }
    device_ = *verdict.device;
    slot_.authenticated();  // the per-address limit bounds only connections not logged in
    clean_ = c.clean_session;
    ext_ = verdict.flags && verdict.flags->ext;
    server_subscribe_ = verdict.flags && verdict.flags->server_subscribe;
    connected_ms_ = kit::unix_ms();
    if (verdict.first_login) ctx_->fleet.first_login(*device_, kit::unix_ms());
    // The record is claimed (and a session on another node told to close) before CONNACK.
    claiming_ = ctx_->cluster != nullptr;
    attachment_.emplace(ctx_->registry.attach(*device_, *this));
    // A clean=0 login resumes its subscriptions (the C SDKs do not subscribe again); a _ss=1
    // device is subscribed to its platform topics, as the platform does.
    const auto* kept = ctx_->registry.login_session(*device_, clean_);
    if (kept != nullptr)
        for (const auto& [filter, qos] : kept->filters) state_.subscribe(filter, qos);
    if (server_subscribe_)
        for (auto& filter : rrpc::platform_subscriptions(*device_))
            state_.subscribe(std::move(filter), mqtt::qos::at_least_once);
    protocol_.accept(kept != nullptr, outbox_);
    // A resumed or _ss=1 session has subscriptions the device did not send in this connection:
    // its SDK may not have set up their handlers yet (the C SDK drops, and PUBACKs, a PUBLISH
    // that comes before; link-sdk-wire.md). Queued messages wait for it (may_take_queued()).
    if (kept != nullptr || server_subscribe_) {
        settled_ = false;
        settle_at_ = clock::now() + ctx_->settings->mqtt.queue_settle;
        settle_by_ = clock::now() + 10 * ctx_->settings->mqtt.queue_settle;
    }
    deadline_.cancel();  // the watchdog moves from the CONNECT deadline to keep-alive
    ctx_->log->info(
        "event=device_online pk={} dn={} peer={} keep_alive={} clean={} session_present={} "
        "ss={} ext={} subscriptions={}",
        device_->product_key, device_->device_name, peer_, c.keep_alive, clean_, kept != nullptr,
        server_subscribe_, ext_, state_.subscriptions());
    ctx_->registry.flush(*device_);  // after CONNACK: what waits and now has a subscription
}

void mqtt_session::postpone_settling() {
    settle_at_ = std::min(clock::now() + ctx_->settings->mqtt.queue_settle, settle_by_);
    deadline_.cancel();  // the watchdog waits for the new moment
}

void mqtt_session::settle() {
    settled_ = true;
    fresh_.clear();
    fresh_.shrink_to_fit();
    ctx_->registry.flush(*device_);  // what waited for the device's SDK goes now
}

bool mqtt_session::may_take_queued(std::string_view topic) const {
    return settled_ || std::ranges::any_of(fresh_, [&](const std::string& f) {
               return mqtt::topic_matches(f, topic);
           });
}

rrpc::session_info mqtt_session::info(bool with_subscriptions) const {
    rrpc::session_info i{peer_,  protocol_.keep_alive(), server_subscribe_, ext_,
                         clean_, connected_ms_};
    if (with_subscriptions) i.subscriptions = state_.filters();
    return i;
}

void mqtt_session::on_publish(mqtt::publish& p) {
    ctx_->traffic.messages_in.fetch_add(1, std::memory_order_relaxed);
    const auto up = rrpc::classify_upstream(*device_, p.topic);
    switch (up.kind) {
        case rrpc::upstream_kind::refused:
            ++refused_publishes_;
            ctx_->log->log(refused_publishes_ == 1 ? spdlog::level::warn : spdlog::level::debug,
                           "event=publish_refused pk={} dn={} topic={} count={}",
                           device_->product_key, device_->device_name, kit::logfmt_value(p.topic),
                           refused_publishes_);
            return;
        case rrpc::upstream_kind::rrpc_reply:
            return ctx_->rrpc.on_reply(*device_, p.topic, up.message_id, std::move(p.payload));
        case rrpc::upstream_kind::reply:
            if (ctx_->async.on_upstream(*device_, p.topic, p.payload)) return;
            break;
        case rrpc::upstream_kind::data: break;
    }
    // An Alink request the platform answers (a property or event post, device info, NTP…):
    // answered at once, in order, at the QoS the device subscribed the reply topic with.
    const auto model = ctx_->models.find(device_->product_key);
    if (const auto answer = rrpc::answer_alink(
            *device_, p.topic, p.payload, model != ctx_->models.end() ? &model->second : nullptr,
            kit::unix_ms())) {
        ++ctx_->alink_answered[{rrpc::to_string(answer->kind), answer->code}];
        if (answer->kind == rrpc::alink_kind::property_post && answer->code == 200)
            if (const auto not_kept =
                    ctx_->properties.posted(*device_, answer->params, kit::unix_ms()))
                ctx_->log->debug("event=property_values_not_kept pk={} dn={} count={}",
                                 device_->product_key, device_->device_name, not_kept);
        deliver(answer->reply_topic, answer->reply, mqtt::qos::at_least_once, 0, false);
        forward_post(p, *answer);
        ctx_->log->debug("event=alink_request pk={} dn={} kind={} code={}{}", device_->product_key,
                         device_->device_name, rrpc::to_string(answer->kind), answer->code,
                         answer->reason.empty() ? std::string{}
                                                : " reason=" + kit::logfmt_value(answer->reason));
        return;
    }
    ctx_->log->debug("event=upstream pk={} dn={} topic={} bytes={}", device_->product_key,
                     device_->device_name, kit::logfmt_value(p.topic), p.payload.size());
    // A custom topic's bytes go to the server-side subscription as they are.
    if (rrpc::is_custom_topic(*device_, p.topic) &&
        ctx_->uplink.wanted(uplink::kind::custom, device_->product_key)) {
        const auto now = std::chrono::system_clock::now();
        ctx_->uplink.publish({.id = ctx_->ids.next(now),
                              .what = uplink::kind::custom,
                              .product_key = device_->product_key,
                              .topic = p.topic,
                              .body = std::move(p.payload),
                              .generate_ms = kit::unix_ms(now),
                              .qos = static_cast<int>(p.qos)});
    }
}

void mqtt_session::forward_post(const mqtt::publish& p, const rrpc::alink_answer& answer) {
    // A post that is not Alink JSON is known by its topic.
    auto kind = answer.kind;
    if (kind == rrpc::alink_kind::malformed && p.topic.ends_with("/post") &&
        p.topic.find("/thing/event/") != std::string::npos)
        kind = p.topic.ends_with("/thing/event/property/post") ? rrpc::alink_kind::property_post
                                                               : rrpc::alink_kind::event_post;
    const bool property = kind == rrpc::alink_kind::property_post;
    if (!property && kind != rrpc::alink_kind::event_post) return;
    const auto what = property ? uplink::kind::property : uplink::kind::event;
    if (!ctx_->uplink.wanted(what, device_->product_key)) return;
    const auto now = std::chrono::system_clock::now();
    const auto now_ms = kit::unix_ms(now);
    const auto iot_id = catalog::device_directory::iot_id_of(*device_);
    // What is not Alink JSON (or whose params are not an object) goes as what it is: counted
    // (the answer's code) and forwarded, never dropped.
    const bool usable = answer.code == 200 || !answer.failed.empty();
    auto body = !usable ? p.payload
                : property
                    ? uplink::property_body(*device_, iot_id, now_ms, answer.params, answer.failed)
                    : uplink::event_body(*device_, iot_id, answer.event, now_ms, answer.params,
                                         answer.failed);
    ctx_->uplink.publish({.id = ctx_->ids.next(now),
                          .what = what,
                          .product_key = device_->product_key,
                          .topic = uplink::forwarding_topic(p.topic),
                          .body = std::move(body),
                          .generate_ms = now_ms,
                          .qos = static_cast<int>(p.qos)});
}

void mqtt_session::on_subscribe(mqtt::subscribe& s) {
    std::vector<std::uint8_t> codes;
    codes.reserve(s.subscriptions.size());
    // A clean=0 session's filters are written to the store: while its writer is behind, the
    // SUBSCRIBE is refused (0x80 for each filter) rather than queued without bound.
    const bool store_behind = !clean_ && ctx_->registry.store_busy();
    if (store_behind && ctx_->counters.hit(kit::limit::store_queue))
        ctx_->log->warn("event=limit_hit limit=store_queue pk={} dn={} count={}",
                        device_->product_key, device_->device_name,
                        ctx_->counters.count(kit::limit::store_queue));
    for (auto& sub : s.subscriptions) {
        if (store_behind) {
            codes.push_back(mqtt::suback_failure);
            continue;
        }
        if (!rrpc::device_may_access(*device_, sub.filter, rrpc::access::subscribe)) {
            ctx_->log->warn("event=subscribe_refused pk={} dn={} filter={}", device_->product_key,
                            device_->device_name, kit::logfmt_value(sub.filter));
            codes.push_back(mqtt::suback_failure);
            continue;
        }
        if (state_.subscriptions() >= ctx_->settings->mqtt.max_subscriptions &&
            !state_.holds(sub.filter)) {
            if (ctx_->counters.hit(kit::limit::mqtt_subscriptions))
                ctx_->log->warn(
                    "event=limit_hit limit=mqtt_subscriptions pk={} dn={} held={} count={}",
                    device_->product_key, device_->device_name, state_.subscriptions(),
                    ctx_->counters.count(kit::limit::mqtt_subscriptions));
            codes.push_back(mqtt::suback_failure);
            continue;
        }
        if (!state_.holds(sub.filter) && state_.filter_bytes() + sub.filter.size() >
                                             ctx_->settings->mqtt.max_subscription_bytes) {
            if (ctx_->counters.hit(kit::limit::mqtt_subscription_bytes))
                ctx_->log->warn(
                    "event=limit_hit limit=mqtt_subscription_bytes pk={} dn={} held_bytes={} "
                    "count={}",
                    device_->product_key, device_->device_name, state_.filter_bytes(),
                    ctx_->counters.count(kit::limit::mqtt_subscription_bytes));
            codes.push_back(mqtt::suback_failure);
            continue;
        }
        const auto granted =
            std::min(sub.qos, mqtt::qos::at_least_once);  // no QoS 2, like the cloud
        codes.push_back(static_cast<std::uint8_t>(granted));
        // The SDK sets up a handler when it sends its SUBSCRIBE: a queued message on a filter
        // granted here may follow this SUBACK; the others wait for the session to settle.
        if (!settled_ && std::ranges::find(fresh_, sub.filter) == fresh_.end())
            fresh_.push_back(sub.filter);
        state_.subscribe(std::move(sub.filter), granted);
    }
    if (!settled_) postpone_settling();
    protocol_.suback(s.packet_id, std::move(codes), outbox_);
    if (!clean_) ctx_->registry.session_changed(*device_, state_.filters());
    ctx_->registry.flush(*device_);  // what waits and this subscription now reaches
}

void mqtt_session::on_unsubscribe(const mqtt::unsubscribe& u) {
    state_.unsubscribe(u.filters);
    if (!settled_) {
        std::erase_if(fresh_, [&](const std::string& f) {
            return std::ranges::find(u.filters, f) != u.filters.end();
        });
        postpone_settling();
    }
    if (!clean_) ctx_->registry.session_changed(*device_, state_.filters());
}

delivery mqtt_session::deliver(std::string_view topic, std::string_view payload, mqtt::qos qos,
                               std::uint64_t message_id, bool dup) {
    if (ending_ != ending::none ||
        protocol_.current_state() != mqtt::server_protocol::state::connected)
        return delivery::none;
    const auto granted = state_.match(topic);
    if (!granted) return delivery::none;
    if (over_outbound_limit(payload.size())) return delivery::none;
    const auto effective = std::min(qos, *granted);
    const auto packet_id = protocol_.publish(topic, payload, effective, dup, outbox_);
    if (!packet_id) {  // the API refuses what cannot be framed; this is the last guard
        ctx_->log->error("event=publish_unframeable pk={} dn={} topic_bytes={} payload_bytes={}",
                         device_->product_key, device_->device_name, topic.size(), payload.size());
        return delivery::none;
    }
    ctx_->traffic.messages_out.fetch_add(1, std::memory_order_relaxed);
    if (effective == mqtt::qos::at_least_once) state_.sent(*packet_id, message_id);
    wake_writer();
    return effective == mqtt::qos::at_least_once ? delivery::qos1 : delivery::qos0;
}

asio::awaitable<std::optional<catalog::device_key>> mqtt_session::read_connect() {
    if (tls_) {
        const auto [hec] =
            co_await tls_->async_handshake(asio::ssl::stream_base::server, kit::use_nothrow);
        if (hec == asio::error::operation_aborted) co_return std::nullopt;  // the deadline's
        if (hec) {
            ctx_->log->info("event=tls_handshake_failed peer={} reason={}", peer_,
                            kit::logfmt_value(hec.message()));
            ending_ = ending::violation;
            co_return std::nullopt;
        }
        handshaken_ = true;
    }
    std::vector<std::uint8_t> buffer(tls_read_size);
    for (;;) {
        const auto frame = mqtt::read_frame(partial_, ctx_->settings->mqtt.max_packet_size);
        if (frame.status == mqtt::frame_result::status::complete) {
            const auto packet = mqtt::decode(frame.header, frame.body);
            const auto* c = packet ? std::get_if<mqtt::connect>(&*packet) : nullptr;
            if (c == nullptr || !c->username) co_return std::nullopt;
            co_return catalog::parse_username(*c->username);
        }
        // Malformed or too large: the protocol says so on this plane.
        if (frame.status != mqtt::frame_result::status::need_more) co_return std::nullopt;
        auto read = tls_ ? tls_->async_read_some(asio::buffer(buffer), kit::use_nothrow)
                         : socket_.async_read_some(asio::buffer(buffer), kit::use_nothrow);
        const auto [ec, n] = co_await std::move(read);
        // Past the CONNECT deadline: the watchdog ends it (and counts it) where it serves.
        if (ec == asio::error::operation_aborted) co_return std::nullopt;
        if (ec || n == 0) {
            ending_ = ending::lost;
            co_return std::nullopt;
        }
        ctx_->traffic.bytes_in.fetch_add(n, std::memory_order_relaxed);
        partial_.insert(partial_.end(), buffer.begin(),
                        buffer.begin() + static_cast<std::ptrdiff_t>(n));
    }
}

asio::awaitable<std::optional<catalog::device_key>> mqtt_session::greet() {
    using namespace asio::experimental::awaitable_operators;
    deadline_.expires_at(accepted_at_ + ctx_->settings->mqtt.connect_timeout);
    auto outcome =
        co_await (read_connect() || deadline_.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (outcome.index() == 0) co_return std::get<0>(std::move(outcome));
    co_return std::nullopt;  // past the CONNECT deadline: the watchdog ends it at once
}

void mqtt_session::rehome(mqtt_context& home) {
    ctx_ = &home;
}

asio::awaitable<void> run_mqtt_session(asio::ip::tcp::socket socket, const mqtt_planes& planes,
                                       std::size_t accepted_on, tls_context tls,
                                       kit::connection_slot slot) {
    mqtt_session session{std::move(socket), *planes.contexts[accepted_on], std::move(tls),
                         std::move(slot)};
    if (planes.contexts.size() > 1) {
        // The TLS handshake and the CONNECT are read where the socket was accepted; the session
        // then lives on its device's home plane (one owner per device, no hop per message).
        if (const auto device = co_await session.greet()) {
            const auto home = rrpc::home_plane(*device, planes.contexts.size());
            if (home != accepted_on) {
                session.rehome(*planes.contexts[home]);
                // Named first: GCC 12 mishandles a temporary built inside a co_await expression.
                auto there =
                    asio::co_spawn(planes.executors[home], session.run(), asio::use_awaitable);
                co_await std::move(there);
                co_return;
            }
        }
    }
    co_await session.run();
}

}  // namespace rrpcd::server
