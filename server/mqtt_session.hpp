#pragma once

#include "catalog/device_directory.hpp"
#include "catalog/device_key.hpp"
#include "catalog/login.hpp"
#include "catalog/property_values.hpp"
#include "catalog/thing_model.hpp"
#include "cluster/member.hpp"
#include "config/settings.hpp"
#include "fleet/fleet.hpp"
#include "kit/connection_limiter.hpp"
#include "kit/limit_counters.hpp"
#include "kit/log_throttle.hpp"
#include "mqtt/packet.hpp"
#include "mqtt/server_protocol.hpp"
#include "mqtt/session_state.hpp"
#include "rrpc/alink_upstream.hpp"
#include "rrpc/async_calls.hpp"
#include "rrpc/message_id.hpp"
#include "rrpc/service.hpp"
#include "server/device_registry.hpp"
#include "server/live_session.hpp"
#include "server/tls.hpp"
#include "server/uplink.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rrpcd::server {

/// What every MQTT session shares. Lives as long as the listener.
/// MQTT traffic of every session (the metrics): PUBLISH packets and bytes, each way.
struct mqtt_traffic {
    std::atomic<std::uint64_t> messages_in{0}, messages_out{0}, bytes_in{0}, bytes_out{0};
};

struct mqtt_context {
    const config::settings_ptr& settings;  ///< its plane's current snapshot
    const catalog::device_directory& devices;
    fleet::service& fleet;  ///< a device's first login is recorded
    device_registry& registry;
    rrpc::service& rrpc;
    rrpc::async_calls& async;
    kit::limit_counters& counters;
    catalog::login_policy& login;
    const catalog::thing_models& models;   ///< what devices post is checked against
    catalog::property_values& properties;  ///< the latest values of the posts answered 200
    std::shared_ptr<spdlog::logger> log;
    /// Refused logins' log lines, at most 10 a minute per address (the node's: every plane's).
    kit::log_throttle& refusal_lines;
    uplink_service& uplink;           ///< property and event posts, custom topics go there
    rrpc::message_id_generator& ids;  ///< their ids (this plane's)
    /// Cluster mode: logins are refused (CONNACK 3) while Redis does not answer.
    const cluster::member* cluster = nullptr;
    /// Refused logins by reason (this plane's; the metrics sum them).
    std::map<std::string, std::uint64_t, std::less<>> login_refused{};
    /// Alink requests devices sent and the platform's answers, by kind and code (the metrics).
    std::map<std::pair<std::string_view, int>, std::uint64_t> alink_answered{};
    /// The one read buffer of every session of this io thread: a session waits until its socket
    /// is readable, then reads here; it keeps only a partial frame, so an idle device holds none.
    std::vector<std::uint8_t> scratch = std::vector<std::uint8_t>(64 * 1024);
    mqtt_traffic traffic{};
};

/// One device connection, as an I/O shell: a read loop feeding the sans-I/O protocol, a write
/// loop draining a bounded outbox, and a watchdog for the CONNECT deadline and keep-alive. What
/// to do with a CONNECT, a PUBLISH or a SUBSCRIBE is decided elsewhere (login_policy,
/// classify_upstream, the ACL, session_state); this class moves bytes and time. It lives in the
/// frame of run_mqtt_session(); the registry reaches it as a live_session while it is a
/// device's live session. io thread only.
class mqtt_session final : public live_session {
public:
    /// With `tls`, the session starts with a TLS handshake (bounded by the CONNECT deadline).
    /// `slot` is its place among the open connections (given back when the session goes).
    mqtt_session(boost::asio::ip::tcp::socket socket, mqtt_context& ctx, tls_context tls,
                 kit::connection_slot slot);
    mqtt_session(const mqtt_session&) = delete;
    mqtt_session& operator=(const mqtt_session&) = delete;

    /// Serves the connection until it ends, on its plane's executor (the one it is spawned
    /// on); leaving it detaches from the registry.
    boost::asio::awaitable<void> run();
    /// Before run(), with several planes: the TLS handshake and the CONNECT's bytes (kept for
    /// run()), within the CONNECT deadline; the device the CONNECT names, if it names one.
    boost::asio::awaitable<std::optional<catalog::device_key>> greet();
    /// Between greet() and run(): the session will serve on `home`'s plane.
    void rehome(mqtt_context& home);

    delivery deliver(std::string_view topic, std::string_view payload, mqtt::qos qos,
                     std::uint64_t message_id, bool dup) override;
    void close(close_reason why) override;
    clock::time_point last_activity() const noexcept override { return protocol_.last_activity(); }
    std::chrono::seconds keep_alive() const noexcept override { return protocol_.keep_alive(); }
    bool ext_rrpc() const noexcept override { return ext_; }
    std::uint64_t serial() const noexcept override { return serial_; }
    bool may_take_queued(std::string_view topic) const override;
    rrpc::session_info info(bool with_subscriptions) const override;
    void claimed(bool ok) override;

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
    boost::asio::awaitable<std::optional<catalog::device_key>> read_connect();
    boost::asio::awaitable<void> write_loop();
    boost::asio::awaitable<void> watchdog();

    void handle(mqtt::protocol_event& event);
    void on_connect(const mqtt::connect& c);
    void on_publish(mqtt::publish& p);
    /// A property or event post, to the server-side subscription in the platform's form.
    void forward_post(const mqtt::publish& p, const rrpc::alink_answer& answer);
    void on_subscribe(mqtt::subscribe& s);
    void on_unsubscribe(const mqtt::unsubscribe& u);
    void on_violation(const boost::system::error_code& reason);
    /// Stops reading; the writer flushes what is queued (bounded by the watchdog) and ends.
    void finish(ending why);
    void wake_writer();
    /// True (and the session ends as a slow reader) when `adding` more bytes would take what
    /// waits for its socket past max_outbound_bytes.
    bool over_outbound_limit(std::size_t adding);
    /// 1, 2, 3… across the process (any thread).
    static std::uint64_t next_serial() noexcept;

    kit::connection_slot slot_;  ///< released after the socket closes (members go in reverse)
    boost::asio::ip::tcp::socket socket_;
    mqtt_context* ctx_;  ///< its plane's (the home plane's after the CONNECT)
    tls_context tls_context_;
    /// Only TLS sessions pay for it (an ssl::stream is large even before its handshake).
    std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
    std::vector<std::uint8_t> tls_buffer_;
    bool handshaken_ = false;
    std::vector<std::uint8_t> partial_;  ///< the start of a frame not yet whole
    mqtt::server_protocol protocol_;
    mqtt::session_state state_;
    std::vector<std::uint8_t> outbox_;
    boost::asio::steady_timer wake_;      ///< the writer's condition variable
    boost::asio::steady_timer deadline_;  ///< the watchdog's
    boost::asio::steady_timer hold_;      ///< parks the reader while the writer flushes
    clock::time_point accepted_at_;
    clock::time_point closing_since_{};
    std::optional<catalog::device_key> device_;
    /// Held while this is its device's live session; released when the session's frame goes.
    std::optional<device_registry::attachment> attachment_;
    ending ending_ = ending::none;
    std::uint64_t refused_publishes_ = 0;
    bool clean_ = true;  ///< the CONNECT's clean session flag: false keeps the session
    bool ext_ = false;   ///< the client id's ext=1
    std::uint64_t serial_ = next_serial();  ///< serial()
    bool server_subscribe_ = false;         ///< the client id's _ss=1
    std::int64_t connected_ms_ = 0;
    /// Queued messages wait for the device's SDK after a resumed or `_ss=1` login: until the
    /// session settles (no (UN)SUBSCRIBE for mqtt.queue_settle_ms, at most 10 times that after
    /// CONNACK), or for a filter subscribed in this connection (`fresh_`) that matches them.
    bool settled_ = true;
    /// Cluster mode: its CONNACK is queued but not written until the device's presence record
    /// is this session's (claimed()).
    bool claiming_ = false;
    clock::time_point settle_at_{}, settle_by_{};
    std::vector<std::string> fresh_;
    void settle();
    /// A SUBSCRIBE or UNSUBSCRIBE before the session settled: it settles later (bounded).
    void postpone_settling();
    boost::asio::ip::address address_;
    std::string peer_;
};

/// The device planes as the MQTT sessions see them: each one's context and executor.
struct mqtt_planes {
    std::vector<mqtt_context*> contexts;
    std::vector<boost::asio::any_io_executor> executors;
};

/// Serves one accepted MQTT connection to its end (over TLS when `tls` is set), started on
/// plane `accepted_on` and served on its device's home plane; `slot` is its place among the
/// open connections.
boost::asio::awaitable<void> run_mqtt_session(boost::asio::ip::tcp::socket socket,
                                              const mqtt_planes& planes, std::size_t accepted_on,
                                              tls_context tls, kit::connection_slot slot);

}  // namespace rrpcd::server
