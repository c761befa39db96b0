#include "server/amqp_session.hpp"

#include "kit/logfmt.hpp"
#include "kit/use_nothrow.hpp"
#include "uplink/consumer_login.hpp"

#include <proton/sasl_plugin.h>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/delivery_mode.hpp>
#include <proton/error_condition.hpp>
#include <proton/io/connection_driver.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/sender.hpp>
#include <proton/sender_options.hpp>
#include <proton/source.hpp>
#include <proton/source_options.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cstring>
#include <mutex>
#include <unordered_set>

namespace rrpcd::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

class amqp_session;

/// The session whose bytes the driver is reading on this thread: Proton calls the SASL
/// plugin from inside read_done(), with the transport only.
thread_local amqp_session* reading = nullptr;

std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

class amqp_session final : public proton::messaging_handler,
                           public std::enable_shared_from_this<amqp_session> {
public:
    amqp_session(amqp_context& ctx, std::string peer) : ctx_(ctx), peer_(std::move(peer)) {}
    ~amqp_session() override {
        if (consumer_ != 0) ctx_.uplink.leave(*group_, consumer_);
        if (counted_client_) {
            auto it = ctx_.per_client.find(login_.client_id);
            if (it != ctx_.per_client.end() && --it->second == 0) ctx_.per_client.erase(it);
        }
    }

    template <class Stream>
    asio::awaitable<void> serve(Stream& stream, tcp::socket& socket);

    /// SASL PLAIN (from the plugin, inside read_done()): true when the user name parses, its
    /// key signed the password, its group exists and its client has a connection to spare.
    bool check_login(std::string_view user, std::string_view password);
    /// What pnx_sasl_set_succeeded() keeps a pointer to (for as long as the transport lives).
    const std::string& user() const noexcept { return user_; }

private:
    // messaging_handler
    void on_connection_open(proton::connection& c) override;
    void on_sender_open(proton::sender& s) override;
    void on_receiver_open(proton::receiver& r) override;
    void on_sendable(proton::sender& s) override { pump(s); }
    void on_tracker_accept(proton::tracker& t) override {
        settled(t, uplink::group_queue::outcome::accepted);
    }
    void on_tracker_reject(proton::tracker& t) override {
        settled(t, uplink::group_queue::outcome::rejected);
    }
    void on_tracker_release(proton::tracker& t) override {  // released and modified
        settled(t, uplink::group_queue::outcome::released);
    }
    void on_tracker_settle(proton::tracker& t) override;
    void on_sender_close(proton::sender& s) override;
    void on_transport_close(proton::transport&) override { stop_consuming(); }
    void on_transport_error(proton::transport& t) override;
    void on_connection_error(proton::connection& c) override { closed_with(c.error()); }
    void on_error(const proton::error_condition& e) override { closed_with(e); }

    void pump(proton::sender& s);
    void settled(proton::tracker& t, uplink::group_queue::outcome o);
    void stop_consuming();
    void closed_with(const proton::error_condition& e);
    void refuse(std::string_view what, const std::string& reason);
    /// The driver has something to do (a wake from the group, bytes read).
    void wake() {
        dirty_ = true;
        if (timer_) timer_->cancel();
    }

    template <class Stream>
    asio::awaitable<void> read_loop(Stream& stream);
    template <class Stream>
    asio::awaitable<void> write_loop(Stream& stream, tcp::socket& socket);

    amqp_context& ctx_;
    std::string peer_;
    std::string user_;  ///< before driver_: Proton points at it until the transport goes
    uplink::consumer_login login_;
    bool logged_in_ = false, counted_client_ = false;
    bool refused_ = false;  ///< its Open was refused (links that follow it are not served)
    uplink_service::group* group_ = nullptr;
    std::uint64_t consumer_ = 0;
    std::optional<proton::sender> sender_;
    std::uint64_t tag_seq_ = 0;
    static constexpr std::size_t max_unsettled = 1000;
    std::unordered_set<std::uint64_t> outstanding_;  ///< sent, not settled (by tag sequence)
    std::uint64_t sent_ = 0, accepted_ = 0;
    bool dirty_ = false;
    std::int64_t closing_since_ = 0;  ///< steady ms when our Close went out (0: not yet)
    static constexpr std::int64_t close_grace_ms = 5000;
    std::optional<asio::steady_timer> timer_;
    std::string out_;
    proton::io::connection_driver driver_{"rrpcd"};
};

// Proton's SASL plugin (server side only): offers PLAIN and asks the session whose bytes are
// being read; Debian's Proton has no Cyrus SASL, and the password is an HMAC rrpcd checks.
const char* sasl_mechanisms(pn_transport_t*) {
    return "PLAIN";
}
bool sasl_init_server(pn_transport_t* t) {
    pnx_sasl_set_desired_state(t, SASL_POSTED_MECHANISMS);
    return true;
}
bool sasl_init_client(pn_transport_t*) {
    return false;
}
void sasl_noop(pn_transport_t*) {}
void sasl_process_init(pn_transport_t* t, const char* mechanism, const pn_bytes_t* recv) {
    bool ok = false;
    if (reading != nullptr && mechanism != nullptr && std::strcmp(mechanism, "PLAIN") == 0 &&
        recv != nullptr) {
        // [authzid] NUL authcid NUL passwd (RFC 4616)
        const std::string_view in{recv->start, recv->size};
        const auto first = in.find('\0');
        const auto second = first == std::string_view::npos ? first : in.find('\0', first + 1);
        if (second != std::string_view::npos)
            ok = reading->check_login(in.substr(first + 1, second - first - 1),
                                      in.substr(second + 1));
        else
            reading->check_login({}, {});  // said as a malformed user name
    }
    if (ok)
        pnx_sasl_set_succeeded(t, reading->user().c_str(), nullptr);
    else
        pnx_sasl_set_failed(t);
    pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}
void sasl_process_response(pn_transport_t* t, const pn_bytes_t*) {
    pnx_sasl_set_failed(t);
    pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}
bool sasl_process_mechanisms(pn_transport_t*, const char*) {
    return false;
}
void sasl_process_bytes(pn_transport_t*, const pn_bytes_t*) {}
bool sasl_can_encrypt(pn_transport_t*) {
    return false;
}
ssize_t sasl_max_encrypt_size(pn_transport_t*) {
    return 0;
}
ssize_t sasl_code(pn_transport_t*, pn_bytes_t, pn_bytes_t*) {
    return 0;
}

const pnx_sasl_implementation plain_checked_here{
    sasl_noop,          sasl_mechanisms,    sasl_init_server,      sasl_init_client,
    sasl_noop,          sasl_process_init,  sasl_process_response, sasl_process_mechanisms,
    sasl_process_bytes, sasl_process_bytes, sasl_can_encrypt,      sasl_max_encrypt_size,
    sasl_code,          sasl_code};

void install_sasl_plugin() {
    static std::once_flag once;
    std::call_once(once, [] { pnx_sasl_set_default_implementation(&plain_checked_here); });
}

bool amqp_session::check_login(std::string_view user, std::string_view password) {
    if (logged_in_ || counted_client_) return false;  // one SASL init per connection
    auto parsed = uplink::parse_consumer_login(user);
    if (!parsed) {
        refuse("login", "user name: " + parsed.error());
        return false;
    }
    login_ = std::move(*parsed);  // said in the refusals below; counted only on success
    const auto signed_by_key =
        ctx_.auth.hmac_of(login_.auth_id, login_.sign_method, uplink::string_to_sign(login_));
    if (!signed_by_key) {
        refuse("login", "unknown access key " + login_.auth_id);
        return false;
    }
    if (!uplink::password_matches(password, *signed_by_key)) {
        refuse("login", "the password is not the signature of access key " + login_.auth_id);
        return false;
    }
    group_ = ctx_.uplink.find(login_.group);
    if (group_ == nullptr) {
        refuse("login", "no consumer group " + login_.group);
        return false;
    }
    auto& open = ctx_.per_client[login_.client_id];
    if (open >= ctx_.settings.max_connections_per_client) {
        if (open == 0) ctx_.per_client.erase(login_.client_id);
        refuse("login", "client " + login_.client_id + " has " + std::to_string(open) +
                            " connections (amqp.max_connections_per_client)");
        return false;
    }
    ++open;
    counted_client_ = true;
    user_ = std::string{user};
    logged_in_ = true;
    ++ctx_.logins;
    return true;
}

void amqp_session::refuse(std::string_view what, const std::string& reason) {
    if (what == "login")
        ++ctx_.logins_refused;
    else
        ++ctx_.refused_links;
    if (const auto suppressed = ctx_.refused_lines.allow(peer_, std::chrono::steady_clock::now()))
        ctx_.log->warn("event=amqp_{}_refused address={} client={} reason={}{}", what, peer_,
                       kit::logfmt_value(login_.client_id), kit::logfmt_value(reason),
                       *suppressed != 0 ? " suppressed=" + std::to_string(*suppressed) : "");
}

void amqp_session::on_connection_open(proton::connection& c) {
    if (!logged_in_) {  // no SASL at all: Proton requires it, this is the second lock
        c.close(proton::error_condition("amqp:unauthorized-access", "SASL PLAIN first"));
        return;
    }
    const auto idle = std::chrono::milliseconds{c.idle_timeout()};
    const auto& s = ctx_.settings;
    if (idle < s.idle_min || idle > s.idle_max) {
        const auto why = "idle-time-out must be " + std::to_string(s.idle_min.count()) + "-" +
                         std::to_string(s.idle_max.count()) + " ms; this Open asks " +
                         std::to_string(idle.count());
        refuse("open", why);
        refused_ = true;
        c.close(proton::error_condition("amqp:invalid-field", why));
        return;
    }
    // Heard from within the consumer's own idle-time-out (it sends a frame each half of it).
    c.open(proton::connection_options().idle_timeout(proton::duration(idle.count())));
}

void amqp_session::on_sender_open(proton::sender& s) {
    if (refused_) return;  // the connection is closing: its Close says why
    if (sender_ || group_ == nullptr || !logged_in_) {
        refuse("link", "one receiver link per connection");
        s.close(proton::error_condition("amqp:resource-limit-exceeded",
                                        "one receiver link per connection"));
        return;
    }
    // The address a consumer asks for is not the platform's concern: every sample asks a
    // different one (default, /queue-name, none); the attach answers with a source all the same.
    auto address = s.source().address();
    if (address.empty()) address = "default";
    s.open(proton::sender_options()
               .source(proton::source_options().address(address))
               .delivery_mode(proton::delivery_mode::AT_LEAST_ONCE));
    sender_ = s;
    std::weak_ptr<amqp_session> self = weak_from_this();
    consumer_ = ctx_.uplink.attach(*group_, [self] {
        if (auto session = self.lock()) session->wake();
    });
    ctx_.log->info(
        "event=amqp_consumer_attached address={} client={} group={} access_key={} "
        "source={}",
        peer_, kit::logfmt_value(login_.client_id), login_.group, login_.auth_id,
        kit::logfmt_value(address));
}

void amqp_session::on_receiver_open(proton::receiver& r) {
    refuse("link", "a sender link (the subscription only sends)");
    r.close(proton::error_condition("amqp:not-allowed",
                                    "the server-side subscription only sends: open a receiver"));
}

void amqp_session::pump(proton::sender& s) {
    if (!sender_ || s != *sender_ || consumer_ == 0) return;
    // Credit is honoured up to max_unsettled messages at once: a consumer that grants a million
    // and reads nothing holds (and costs) no more than that.
    while (s.active() && s.credit() > 0 && outstanding_.size() < max_unsettled) {
        const auto m = ctx_.uplink.take(*group_, consumer_);
        if (!m) break;
        proton::message out;
        out.body(proton::binary(m->body));
        out.inferred(true);  // one data section: the bytes as they are
        const auto id = std::to_string(m->id);
        out.id(id);
        auto& props = out.properties();
        props.put("topic", m->topic);
        props.put("messageId", id);
        props.put("generateTime", static_cast<std::int64_t>(m->generate_ms));
        props.put("qos", static_cast<std::int32_t>(m->qos));
        // The tag names the message (and which sending of it).
        std::string tag(16, '\0');
        const auto seq = ++tag_seq_;
        for (int i = 0; i < 8; ++i) {
            tag[i] = static_cast<char>((m->id >> (56 - 8 * i)) & 0xff);
            tag[8 + i] = static_cast<char>((seq >> (56 - 8 * i)) & 0xff);
        }
        s.send(out, proton::binary(tag));
        outstanding_.insert(seq);
        ++sent_;
    }
}

void amqp_session::settled(proton::tracker& t, uplink::group_queue::outcome o) {
    const auto tag = t.tag();
    if (tag.size() != 16 || group_ == nullptr) return;
    std::uint64_t id = 0, seq = 0;
    for (int i = 0; i < 8; ++i) id = (id << 8) | static_cast<std::uint8_t>(tag[i]);
    for (int i = 8; i < 16; ++i) seq = (seq << 8) | static_cast<std::uint8_t>(tag[i]);
    // A delivery's outcome counts once: a second disposition of the same delivery (released
    // unsettled, then settled) must not put back a message sent again since.
    if (outstanding_.erase(seq) == 0) return;
    t.settle();  // done with here: Proton keeps no delivery a consumer does not settle itself
    if (o == uplink::group_queue::outcome::accepted) ++accepted_;
    ctx_.uplink.settle(*group_, consumer_, id, o);
}

void amqp_session::on_tracker_settle(proton::tracker& t) {
    // Settled by the consumer without an outcome we act on: no longer outstanding (the group
    // sends it again after the ACK time-out unless an outcome came).
    const auto tag = t.tag();
    if (tag.size() != 16) return;
    std::uint64_t seq = 0;
    for (int i = 8; i < 16; ++i) seq = (seq << 8) | static_cast<std::uint8_t>(tag[i]);
    outstanding_.erase(seq);
}

void amqp_session::on_sender_close(proton::sender& s) {
    if (sender_ && s == *sender_) stop_consuming();
}

void amqp_session::stop_consuming() {
    if (consumer_ == 0) return;
    ctx_.uplink.leave(*group_, std::exchange(consumer_, 0));
    sender_.reset();
}

void amqp_session::on_transport_error(proton::transport& t) {
    closed_with(t.error());
    stop_consuming();
}

void amqp_session::closed_with(const proton::error_condition& e) {
    if (e && e.name() != "amqp:connection:framing-error")
        ctx_.log->debug("event=amqp_error address={} client={} condition={} reason={}", peer_,
                        kit::logfmt_value(login_.client_id), kit::logfmt_value(e.name()),
                        kit::logfmt_value(e.description()));
}

template <class Stream>
asio::awaitable<void> amqp_session::read_loop(Stream& stream) {
    std::array<char, 16 * 1024> in;
    for (;;) {
        const auto [ec, n] = co_await stream.async_read_some(asio::buffer(in), kit::use_nothrow);
        if (ec) {
            driver_.read_close();
            wake();
            co_return;
        }
        for (std::size_t at = 0; at < n;) {
            const auto room = driver_.read_buffer();
            if (room.size == 0) {  // the driver reads no more (closing)
                wake();
                co_return;
            }
            const auto k = std::min(room.size, n - at);
            std::memcpy(room.data, in.data() + at, k);
            reading = this;
            driver_.read_done(k);
            reading = nullptr;
            at += k;
        }
        wake();
    }
}

template <class Stream>
asio::awaitable<void> amqp_session::write_loop(Stream& stream, tcp::socket& socket) {
    const auto deadline = steady_ms() + ctx_.settings.receiver_timeout.count();
    bool link_deadline_passed = false;
    for (;;) {
        dirty_ = false;
        bool alive = driver_.dispatch();
        if (sender_) {  // messages may wait (a wake), and credit may allow them
            pump(*sender_);
            alive = driver_.dispatch() || alive;
        }
        const auto out = driver_.write_buffer();
        if (out.size != 0) {
            // Copied: the driver's buffer may move while the write waits (bytes read meanwhile).
            out_.assign(out.data, out.size);
            driver_.write_done(out.size);
            const auto [ec, n] =
                co_await asio::async_write(stream, asio::buffer(out_), kit::use_nothrow);
            if (ec) {
                driver_.write_close();
                driver_.disconnected(
                    proton::error_condition("amqp:connection:forced", ec.message()));
            }
            continue;
        }
        // Both Close frames are through (or the transport is done): the socket goes now; a
        // peer waits for that, not for an end of its own.
        if (!alive || driver_.connection().closed()) break;
        const auto now = steady_ms();
        if (!sender_ && !link_deadline_passed && now >= deadline) {
            link_deadline_passed = true;
            const auto why = "no receiver link within " +
                             std::to_string(ctx_.settings.receiver_timeout.count()) + " ms";
            refuse("open", why);
            auto c = driver_.connection();
            if (logged_in_ && !c.closed())
                c.close(proton::error_condition("amqp:precondition-failed", why));
            else
                driver_.disconnected(proton::error_condition("amqp:connection:forced", why));
            continue;
        }
        // The driver's next timer (heartbeats, the peer's idle-time-out), or the link deadline.
        const auto next_tick = driver_.tick(proton::timestamp(now)).milliseconds();
        // What the tick made (a heartbeat, the idle-time-out's Close) goes now, not after a sleep.
        if (driver_.has_events() || driver_.write_buffer().size != 0) continue;
        auto wait_until = link_deadline_passed || sender_ ? now + 3'600'000 : deadline;
        if (next_tick != 0) wait_until = std::min<std::int64_t>(wait_until, next_tick);
        // Our Close sent: the peer has close_grace to answer it, then the socket goes.
        const auto c = driver_.connection();
        if (c.uninitialized() == false && !c.active() && closing_since_ == 0) closing_since_ = now;
        if (closing_since_ != 0) {
            if (now - closing_since_ >= close_grace_ms) break;
            wait_until = std::min<std::int64_t>(wait_until, closing_since_ + close_grace_ms);
        }
        if (dirty_) continue;
        timer_->expires_after(
            std::chrono::milliseconds{std::max<std::int64_t>(0, wait_until - now)});
        co_await timer_->async_wait(kit::use_nothrow);
    }
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
}

template <class Stream>
asio::awaitable<void> amqp_session::serve(Stream& stream, tcp::socket& socket) {
    using namespace asio::experimental::awaitable_operators;
    timer_.emplace(co_await asio::this_coro::executor);
    proton::connection_options opts;
    opts.handler(*this)
        .sasl_enabled(true)
        .sasl_allowed_mechs("PLAIN")
        .sasl_allow_insecure_mechs(true)  // the TLS is Asio's: Proton cannot see it
        .max_frame_size(64 * 1024);
    driver_.accept(opts);
    co_await (read_loop(stream) && write_loop(stream, socket));
    if (logged_in_)
        ctx_.log->info(
            "event=amqp_consumer_closed address={} client={} group={} sent={} "
            "accepted={}",
            peer_, kit::logfmt_value(login_.client_id), login_.group, sent_, accepted_);
}

}  // namespace

asio::awaitable<void> run_amqp_session(tcp::socket socket, amqp_context& ctx, tls_context tls,
                                       kit::connection_slot slot) {
    install_sasl_plugin();
    const kit::connection_slot held = std::move(slot);
    boost::system::error_code ec;
    const auto peer = socket.remote_endpoint(ec).address().to_string();
    socket.set_option(tcp::no_delay{true}, ec);
    auto session = std::make_shared<amqp_session>(ctx, peer);
    if (!tls) {
        co_await session->serve(socket, socket);
        co_return;
    }
    asio::ssl::stream<tcp::socket&> stream{socket, *tls};
    // The handshake gets the link deadline at most (a peer that sends nothing goes then); the
    // timer runs on this coroutine's strand, and the handshake is cancelled, not the socket
    // closed under it.
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer guard{co_await asio::this_coro::executor};
    guard.expires_after(ctx.settings.receiver_timeout);
    auto handshake = stream.async_handshake(asio::ssl::stream_base::server, kit::use_nothrow);
    auto deadline = guard.async_wait(kit::use_nothrow);
    const auto done = co_await (std::move(handshake) || std::move(deadline));
    const auto hec = done.index() == 0 ? std::get<0>(std::get<0>(done))
                                       : boost::system::error_code{asio::error::timed_out};
    if (hec) {
        ctx.log->info("event=tls_handshake_failed listener=amqps address={} reason={}", peer,
                      kit::logfmt_value(hec.message()));
        co_return;
    }
    co_await session->serve(stream, socket);
}

}  // namespace rrpcd::server
