#include "server/device_plane.hpp"

#include "kit/unix_ms.hpp"

#include <boost/asio/detached.hpp>

#include <algorithm>

namespace rrpcd::server {

namespace asio = boost::asio;

namespace {
/// `1.2.3.4` of `1.2.3.4:5678`, `::1` of `[::1]:5678`.
std::string address_of(std::string_view peer) {
    const auto colon = peer.rfind(':');
    if (colon != std::string_view::npos) peer = peer.substr(0, colon);
    if (peer.size() >= 2 && peer.front() == '[' && peer.back() == ']')
        peer = peer.substr(1, peer.size() - 2);
    return std::string{peer};
}
}  // namespace

device_plane::device_plane(std::size_t index, std::size_t planes, asio::io_context& io,
                           config::settings_ptr snapshot, const plane_services& node)
    : settings(std::move(snapshot)),
      registry(node.journal, settings, node.counters, node.mqtt_log),
      ids(settings->rrpc.node_id, static_cast<std::uint32_t>(index)),
      rrpc(registry, ids, node.calls, node.rrpc_log),
      async(registry, node.calls, node.replies, node.devices, node.rrpc_log),
      local(registry, rrpc, async),
      mqtt{settings,      node.devices,     node.fleet,  registry,    rrpc,
           async,         node.counters,    node.login,  node.models, node.properties,
           node.mqtt_log, node.login_lines, node.uplink, ids,         node.cluster},
      index_(index) {
    if (planes > 1) {
        strand_.emplace(asio::make_strand(io));
        executor_ = *strand_;
    } else {
        executor_ = io.get_executor();
    }
    auto& calls = node.calls;
    registry.on_sent = [&calls](std::uint64_t message_id) { calls.published(message_id); };
    registry.on_acked = [&calls](std::uint64_t message_id) { calls.acknowledged(message_id); };
    registry.on_delivered = [this](const catalog::device_key& d, std::uint64_t message_id,
                                   std::string_view topic) {
        async.delivered(d, message_id, topic);
    };
    registry.on_session_change = [this](const catalog::device_key& d) { async.session_changed(d); };
    registry.on_session_end = [this](const catalog::device_key& d, const rrpc::presence& p) {
        rrpc.on_session_end(d, p);
    };
    auto& uplink = node.uplink;
    auto* cluster = node.cluster;
    registry.on_status = [this, &uplink, cluster](const catalog::device_key& d,
                                                  const live_session& s, bool online,
                                                  bool taken_over, rrpc::presence::state how) {
        // The shared presence record: a takeover here is the new session's login.
        if (cluster != nullptr && online)
            cluster->online(
                d, s.serial(), s.keep_alive(), false, [this, d, serial = s.serial()](bool ok) {
                    asio::post(executor(),
                               [this, d, serial, ok] { registry.claimed(d, serial, ok); });
                });
        else if (cluster != nullptr && !taken_over) {
            cluster->offline(d, s.serial(), how == rrpc::presence::state::left_cleanly);
            if (registry.queued(d) != 0)
                asio::co_spawn(executor(), spill(d, *cluster), asio::detached);
        }
        if (!uplink.wanted(uplink::kind::status, d.product_key)) return;
        const auto now = std::chrono::system_clock::now();
        // lastTime: the session's last PUBLISH or PING (its login when it goes online).
        const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(
            live_session::clock::now() - s.last_activity());
        const auto now_ms = kit::unix_ms(now);
        const auto last_ms = online ? now_ms : now_ms - std::max<std::int64_t>(0, silent.count());
        std::optional<uplink::offline_reason> why;
        if (!online)
            why = taken_over ? uplink::offline_reason::takeover
                  : how == rrpc::presence::state::left_cleanly
                      ? uplink::offline_reason::disconnected
                      : uplink::offline_reason::lost;
        uplink.publish(
            {.id = ids.next(now),
             .what = uplink::kind::status,
             .product_key = d.product_key,
             .topic = uplink::status_topic(d),
             .body = uplink::status_body(d, catalog::device_directory::iot_id_of(d), online, now_ms,
                                         last_ms, address_of(s.info(false).peer), why),
             .generate_ms = now_ms,
             .qos = 0});
    };
}

namespace {

/// The call, made on `plane` when the device's live session is there; nullopt when it is not
/// (cluster mode: its owner may be another node). `request` is the awaiting caller's.
asio::awaitable<std::optional<plane_router::call_outcome>> call_if_here(device_plane& plane,
                                                                        rrpc::call_request& request,
                                                                        std::size_t max_pending) {
    if (plane.registry.presence_of(request.device).link != rrpc::presence::state::connected)
        co_return std::nullopt;
    co_return co_await plane.local.call(std::move(request), max_pending);
}

/// The device has a live session on `plane`.
asio::awaitable<bool> is_live(device_plane& plane, const catalog::device_key& device) {
    co_return plane.registry.presence_of(device).link == rrpc::presence::state::connected;
}

/// A presence that classifies as `l` (a device whose session is on another node).
rrpc::presence presence_like(rrpc::liveness l) {
    const auto now = rrpc::presence::clock::now();
    switch (l) {
        case rrpc::liveness::online: return {rrpc::presence::state::connected, now, {}};
        case rrpc::liveness::half_connected:
            return {rrpc::presence::state::lost, now, std::chrono::seconds{3600}};
        case rrpc::liveness::offline: break;
    }
    return {rrpc::presence::state::left_cleanly, now, {}};
}

}  // namespace

std::uint64_t plane_router::next_id(const catalog::device_key& device) {
    return home(device).local.next_id(device);
}

asio::awaitable<rrpc::device_link> plane_router::link(catalog::device_key device) {
    const auto ex = co_await asio::this_coro::executor;
    auto& plane = route(device, ex);
    auto link = co_await on_plane(plane, [&] { return plane.local.link(device); });
    if (!cluster || link.link.link == rrpc::presence::state::connected) co_return link;
    // Named first: GCC 12 mishandles a temporary built inside a co_await expression.
    auto asked = cluster->liveness(std::move(device));
    if (const auto elsewhere = co_await std::move(asked))
        link.link = presence_like(*elsewhere);
    else
        link.unavailable = true;
    co_return link;
}

asio::awaitable<std::vector<rrpc::presence>> plane_router::links(
    std::vector<catalog::device_key> devices) {
    if (!cluster) co_return co_await links_here(std::move(devices));
    auto asked = devices;
    auto here = co_await links_here(std::move(devices));
    co_return co_await elsewhere(std::move(asked), std::move(here));
}

asio::awaitable<std::vector<rrpc::presence>> plane_router::links_here(
    std::vector<catalog::device_key> devices) {
    if (planes_.size() == 1) co_return co_await planes_[0]->local.links(std::move(devices));
    const auto ex = co_await asio::this_coro::executor;
    // One message per plane with its devices, answered in the order asked.
    std::vector<std::vector<std::size_t>> at(planes_.size());
    std::vector<std::vector<catalog::device_key>> of(planes_.size());
    for (std::size_t i = 0; i < devices.size(); ++i) {
        const auto p = rrpc::home_plane(devices[i], planes_.size());
        at[p].push_back(i);
        of[p].push_back(std::move(devices[i]));
    }
    std::vector<rrpc::presence> out(devices.size());
    for (std::size_t p = 0; p < planes_.size(); ++p) {
        if (of[p].empty()) continue;
        auto& plane = *planes_[p];
        if (!plane.serves(ex)) hops_.fetch_add(1, std::memory_order_relaxed);
        const auto got =
            co_await on_plane(plane, [&] { return plane.local.links(std::move(of[p])); });
        for (std::size_t j = 0; j < got.size() && j < at[p].size(); ++j) out[at[p][j]] = got[j];
    }
    co_return out;
}

asio::awaitable<std::vector<rrpc::presence>> plane_router::elsewhere(
    std::vector<catalog::device_key> devices, std::vector<rrpc::presence> links) {
    if (!cluster) co_return links;
    // Those not live here, asked of their records in one round trip.
    std::vector<std::size_t> at;
    std::vector<catalog::device_key> asked;
    for (std::size_t i = 0; i < devices.size() && i < links.size(); ++i) {
        if (links[i].link == rrpc::presence::state::connected) continue;
        at.push_back(i);
        asked.push_back(std::move(devices[i]));
    }
    if (asked.empty()) co_return links;
    auto answer = cluster->liveness_of(std::move(asked));
    const auto seen = co_await std::move(answer);
    if (!seen) co_return links;  // Redis does not answer: what this node knows
    for (std::size_t j = 0; j < at.size() && j < seen->size(); ++j)
        links[at[j]] = presence_like((*seen)[j]);
    co_return links;
}

asio::awaitable<plane_router::call_outcome> plane_router::call(rrpc::call_request request,
                                                               std::size_t max_pending) {
    if (!cluster) co_return co_await call_here(std::move(request), max_pending);
    const auto ex = co_await asio::this_coro::executor;
    auto& plane = route(request.device, ex);
    auto here = co_await on_plane(plane, [&] { return call_if_here(plane, request, max_pending); });
    if (here) co_return std::move(*here);
    co_return co_await cluster->call(std::move(request), max_pending);
}

void device_plane::spill_restored(cluster::member& cluster) {
    for (auto& d : registry.queued_devices())
        if (registry.presence_of(d).link != rrpc::presence::state::connected)
            asio::co_spawn(executor(), spill(std::move(d), cluster), asio::detached);
}

asio::awaitable<void> device_plane::spill(catalog::device_key device, cluster::member& cluster) {
    // A copy: the queue changes while Redis answers (a PUBACK, a new login here).
    std::vector<rrpc::queued_message> queued;
    if (const auto* q = registry.queued_messages(device))
        for (const auto& m : *q)
            if (!m.call) queued.push_back(m);  // an async call's request stays with its call
    const auto max = settings->mqtt.max_queued_messages;
    for (auto& m : queued) {
        if (registry.presence_of(device).link == rrpc::presence::state::connected)
            co_return;  // back here meanwhile: this queue serves it
        const auto id = m.message_id;
        auto copy = m;  // named first: GCC 12 and temporaries in a co_await expression
        auto parking = co_await cluster.park(device, std::move(copy), max);
        using parked = cluster::member::parking;
        if (parking == parked::online) {
            // Taken over by a login on another node: the message goes to it, as a Pub would.
            auto e =
                cluster::pub_envelope(device, id, std::move(m.topic), std::move(m.payload), true);
            auto there = co_await cluster.send(std::move(e));
            if (there.where != cluster::member::relayed::place::sent || !there.outcome ||
                there.outcome->code != rrpc::rrpc_code::success)
                co_return;
        } else if (parking != parked::parked) {
            co_return;
        }
        registry.withdraw(device, id);
    }
}

asio::awaitable<plane_router::call_outcome> plane_router::call_here(rrpc::call_request request,
                                                                    std::size_t max_pending) {
    const auto ex = co_await asio::this_coro::executor;
    auto& plane = route(request.device, ex);
    co_return co_await on_plane(plane,
                                [&] { return plane.local.call(std::move(request), max_pending); });
}

asio::awaitable<rrpc::async_calls::sent> plane_router::send(std::uint64_t message_id,
                                                            rrpc::async_request request) {
    using sent = rrpc::async_calls::sent;
    using place = cluster::member::relayed::place;
    if (cluster && !co_await live_here(request.device)) {
        cluster::send_envelope e{.origin = 0,
                                 .ticket = 0,
                                 .message_id = message_id,
                                 .publish = false,
                                 .reliable = request.reliable,
                                 .kind = request.kind,
                                 .device = request.device,
                                 .topic = request.topic,
                                 .payload = request.payload,
                                 .identifier = request.identifier,
                                 .alink_id = request.alink_id,
                                 .owner = request.owner};
        auto there = co_await cluster->send(std::move(e));
        if (there.where == place::unavailable) co_return sent::unavailable;
        if (there.where == place::sent) {
            if (!there.outcome || there.outcome->code != rrpc::rrpc_code::success ||
                there.outcome->waiting > static_cast<std::uint32_t>(sent::unavailable))
                co_return sent::unavailable;
            co_return static_cast<sent>(there.outcome->waiting);
        }
        // Offline or half-connected by its record: here, as a single node does.
    }
    co_return co_await send_here(message_id, std::move(request));
}

asio::awaitable<rrpc::async_calls::sent> plane_router::send_here(std::uint64_t message_id,
                                                                 rrpc::async_request request) {
    const auto ex = co_await asio::this_coro::executor;
    auto& plane = route(request.device, ex);
    co_return co_await on_plane(plane,
                                [&] { return plane.local.send(message_id, std::move(request)); });
}

asio::awaitable<plane_router::published> plane_router::publish(catalog::device_key device,
                                                               std::string topic,
                                                               std::string payload, bool reliably,
                                                               std::uint64_t message_id) {
    if (cluster && !co_await live_here(device)) {
        auto e = cluster::pub_envelope(device, message_id, topic, payload, reliably);
        auto there = co_await cluster->send(std::move(e));
        using place = cluster::member::relayed::place;
        if (there.where == place::unavailable) co_return published::unavailable;
        if (there.where == place::sent) {
            if (!there.outcome || there.outcome->code == rrpc::rrpc_code::unknown)
                co_return published::unavailable;  // it may or may not be kept there
            co_return there.outcome->code == rrpc::rrpc_code::success ? published::taken
                                                                      : published::refused;
        }
        // Online nowhere: a QoS 1 message is parked in Redis for the device's next login on any
        // node (its record is checked again there: one that came online meanwhile gets it
        // through its node).
        if (reliably) {
            const auto max = home(device).settings->mqtt.max_queued_messages;
            // Named first: GCC 12 mishandles a temporary built inside a co_await expression.
            rrpc::queued_message message{
                .message_id = message_id, .topic = topic, .payload = payload};
            auto parking = co_await cluster->park(device, std::move(message), max);
            using parked = cluster::member::parking;
            if (parking == parked::parked) co_return published::taken;
            if (parking == parked::full) co_return published::refused;
            if (parking == parked::unavailable) co_return published::unavailable;
            // Online now: the next Pub finds it; this one is not kept twice.
            co_return published::unavailable;
        }
    }
    co_return co_await publish_here(std::move(device), std::move(topic), std::move(payload),
                                    reliably, message_id);
}

asio::awaitable<plane_router::published> plane_router::publish_here(catalog::device_key device,
                                                                    std::string topic,
                                                                    std::string payload,
                                                                    bool reliably,
                                                                    std::uint64_t message_id) {
    const auto ex = co_await asio::this_coro::executor;
    auto& plane = route(device, ex);
    co_return co_await on_plane(plane, [&] {
        return plane.local.publish(std::move(device), std::move(topic), std::move(payload),
                                   reliably, message_id);
    });
}

asio::awaitable<bool> plane_router::live_here(const catalog::device_key& device) {
    const auto ex = co_await asio::this_coro::executor;
    auto& plane = route(device, ex);
    co_return co_await on_plane(plane, [&] { return is_live(plane, device); });
}

asio::awaitable<void> plane_router::withdraw(catalog::device_key device, std::uint64_t message_id) {
    const auto ex = co_await asio::this_coro::executor;
    auto& plane = route(device, ex);
    co_await on_plane(plane, [&] { return plane.local.withdraw(std::move(device), message_id); });
}

void plane_router::close(catalog::device_key device, bool forget) {
    if (cluster) cluster->close(device, forget);
    auto& plane = home(device);
    if (plane.here()) return plane.local.close(std::move(device), forget);
    hops_.fetch_add(1, std::memory_order_relaxed);
    asio::post(plane.executor(),
               [&plane, device = std::move(device), forget] { plane.local.close(device, forget); });
}

}  // namespace rrpcd::server
