#pragma once

#include "catalog/device_directory.hpp"
#include "catalog/device_key.hpp"
#include "config/settings.hpp"
#include "kit/limit_counters.hpp"
#include "mqtt/packet.hpp"
#include "mqtt/server_protocol.hpp"
#include "rrpc/async_calls.hpp"
#include "rrpc/presence.hpp"
#include "rrpc/service.hpp"
#include "server/limits.hpp"
#include "server/tls.hpp"
#include "store/journal.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace rrpcd::server {

class device_registry;

/// How deliver() sent a message.
enum class delivery : std::uint8_t { none, qos0, qos1 };

/// What every MQTT session shares. Lives as long as the listener.
struct mqtt_context {
    const config::mqtt_settings& settings;
    catalog::device_directory& devices;
    store::journal& journal;  ///< a device's first login is recorded
    device_registry& registry;
    rrpc::service& rrpc;
    rrpc::async_calls& async;
    kit::limit_counters& counters;
    login_backoff& backoff;
    std::shared_ptr<spdlog::logger> log;
    /// The one read buffer of every session of this io thread: a session waits until its socket
    /// is readable, then reads here; it keeps only a partial frame, so an idle device holds none.
    std::vector<std::uint8_t> scratch = std::vector<std::uint8_t>(64 * 1024);
};

/// One device connection: a read loop feeding the sans-I/O protocol, a write loop draining a
/// bounded outbox, and a watchdog for the CONNECT deadline and keep-alive. It lives in the frame
/// of run_mqtt_session(); the registry holds a pointer to it while it is a device's live session.
/// io thread only.
class mqtt_session {
public:
    using clock = std::chrono::steady_clock;

    /// With `tls`, the session starts with a TLS handshake (bounded by the CONNECT deadline).
    mqtt_session(boost::asio::ip::tcp::socket socket, mqtt_context& ctx, tls_context tls);
    mqtt_session(const mqtt_session&) = delete;
    mqtt_session& operator=(const mqtt_session&) = delete;

    /// Serves the connection until it ends, then tells the registry and the RRPC core.
    boost::asio::awaitable<void> run();

    /// Sends a PUBLISH when a subscription matches `topic`, at the lower of `qos` and the granted
    /// QoS; a QoS 1 send remembers `message_id` until its PUBACK (then the registry is told).
    /// `none` when nothing matches or the session is closing. A reader too slow for the outbox
    /// limit is disconnected.
    delivery deliver(std::string_view topic, std::string_view payload, mqtt::qos qos,
                     std::uint64_t message_id = 0);

    /// Ends this session because the same device logged in again.
    void close_for_takeover();
    /// Ends this session because the server stops (what is queued is flushed first, bounded).
    void close_for_shutdown();
    /// Ends this session because its device was deleted or disabled.
    void close_for_removal();

    clock::time_point last_activity() const noexcept { return protocol_.last_activity(); }
    std::chrono::seconds keep_alive() const noexcept { return protocol_.keep_alive(); }

private:
    /// Why the session ended; decides the device's presence afterwards.
    enum class ending : std::uint8_t {
        none,
        disconnect,
        lost,
        violation,
        refused,
        keep_alive,
        takeover,
        slow_reader,
        shutdown,
        removed
    };

    boost::asio::awaitable<void> read_loop();
    boost::asio::awaitable<void> write_loop();
    boost::asio::awaitable<void> watchdog();

    void handle(mqtt::protocol_event& event);
    void on_connect(mqtt::connect& c);
    void on_publish(mqtt::publish& p);
    void on_subscribe(mqtt::subscribe& s);
    void on_unsubscribe(const mqtt::unsubscribe& u);
    void refuse(mqtt::connect_return_code code, std::string_view reason, const mqtt::connect& c);
    /// Stops reading; the writer flushes what is queued (bounded by the watchdog) and ends.
    void finish(ending why);
    void wake_writer();

    boost::asio::ip::tcp::socket socket_;
    mqtt_context& ctx_;
    tls_context tls_context_;
    /// Only TLS sessions pay for it (an ssl::stream is large even before its handshake).
    std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
    std::vector<std::uint8_t> tls_buffer_;
    mqtt::server_protocol protocol_;
    std::vector<std::uint8_t> outbox_;
    boost::asio::steady_timer wake_;      ///< the writer's condition variable
    boost::asio::steady_timer deadline_;  ///< the watchdog's
    boost::asio::steady_timer hold_;      ///< parks the reader while the writer flushes
    clock::time_point accepted_at_;
    clock::time_point closing_since_{};
    std::optional<catalog::device_key> device_;
    std::vector<mqtt::subscription> subscriptions_;
    std::unordered_map<std::uint16_t, std::uint64_t> inflight_;  ///< QoS 1 packet id -> MessageId
    ending ending_ = ending::none;
    std::uint64_t refused_publishes_ = 0;
    boost::asio::ip::address address_;
    std::string peer_;
};

/// Serves one accepted MQTT connection to its end (over TLS when `tls` is set); `slot` is its
/// place among the open connections.
boost::asio::awaitable<void> run_mqtt_session(boost::asio::ip::tcp::socket socket,
                                              mqtt_context& ctx, tls_context tls,
                                              connection_slot slot);

}  // namespace rrpcd::server
