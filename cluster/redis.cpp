#include "cluster/redis.hpp"

#include "cluster/scripts.hpp"

#include "kit/use_nothrow.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace rrpcd::cluster {

namespace asio = boost::asio;

std::string_view to_string(redis_error e) noexcept {
    switch (e) {
        case redis_error::not_connected: return "not_connected";
        case redis_error::timed_out: return "timed_out";
        case redis_error::lost: break;
    }
    return "lost";
}

namespace {

reply copy_of(const redisReply& r) {
    reply out;
    switch (r.type) {
        case REDIS_REPLY_INTEGER:
            out.kind = reply::type::integer;
            out.integer = r.integer;
            break;
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
        case REDIS_REPLY_ERROR:
            out.kind = r.type == REDIS_REPLY_STRING   ? reply::type::text
                       : r.type == REDIS_REPLY_STATUS ? reply::type::status
                                                      : reply::type::error;
            out.text.assign(r.str, r.len);
            break;
        case REDIS_REPLY_ARRAY:
            out.kind = reply::type::array;
            out.elements.reserve(r.elements);
            for (std::size_t i = 0; i < r.elements; ++i)
                out.elements.push_back(copy_of(*r.element[i]));
            break;
        default: break;  // nil
    }
    return out;
}

}  // namespace

/// A command in flight: its reply (or its loss) wakes the timer its coroutine waits on.
struct redis_connection::pending {
    explicit pending(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::optional<reply> answer;
    bool done = false;
};

redis_connection::redis_connection(asio::io_context& io, const config::cluster_settings& settings,
                                   std::string name, std::shared_ptr<spdlog::logger> log)
    : strand_(asio::make_strand(io)),
      settings_(settings),
      name_(std::move(name)),
      log_(std::move(log)),
      retry_timer_(strand_) {}

redis_connection::~redis_connection() {
    if (context_ != nullptr) {
        context_->ev.data = nullptr;  // no hook may reach this object any more
        context_->data = nullptr;
        if (socket_) (void)socket_->release();  // hiredis closes its socket
        redisAsyncFree(context_);               // commands still waiting are told (lost)
    }
}

void redis_connection::listen(std::vector<std::string> channels,
                              std::function<void(std::string_view, std::string_view)> on_message) {
    channels_ = std::move(channels);
    on_message_ = std::move(on_message);
}

void redis_connection::start() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->connect(); });
}

void redis_connection::stop() {
    asio::dispatch(strand_, [self = shared_from_this()] {
        self->stopped_ = true;
        self->retry_timer_.cancel();
        if (self->context_ != nullptr) redisAsyncDisconnect(self->context_);
    });
}

void redis_connection::connect() {
    if (stopped_) return;
    context_ = settings_.unix_path.empty()
                   ? redisAsyncConnect(settings_.host.c_str(), settings_.port)
                   : redisAsyncConnectUnix(settings_.unix_path.c_str());
    if (context_ == nullptr || context_->err != 0) {
        if (context_ != nullptr) {
            if (was_up_ || retry_delay_ == std::chrono::milliseconds{100})
                log_->debug("event=redis_connect_failed connection={} error={}", name_,
                            context_->errstr);
            redisAsyncFree(context_);
            context_ = nullptr;
        }
        return retry();
    }
    context_->data = this;
    // A Redis that vanishes without a word (a partition, a failover to another host) is noticed
    // within seconds, not after the kernel's 15 minutes of retries: keep-alive probes, and data
    // not acknowledged within the lease. (A Redis that is only stopped still acknowledges: its
    // commands time out instead, and the connection stays.)
    if (settings_.unix_path.empty()) {
        const int fd = context_->c.fd;
        const int on = 1, idle = 2, interval = 1, count = 3;
        const auto user_timeout = static_cast<unsigned>(
            std::max<std::chrono::milliseconds>(settings_.lease, std::chrono::seconds{2}).count());
        ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
        ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
        ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
    }
    socket_.emplace(strand_, context_->c.fd);
    context_->ev.data = this;
    // Each hook is a no-op once the destructor let go of the context (ev.data null).
    context_->ev.addRead = [](void* p) {
        if (p != nullptr) static_cast<redis_connection*>(p)->want_read();
    };
    context_->ev.delRead = [](void* p) {
        if (p != nullptr) static_cast<redis_connection*>(p)->read_wanted_ = false;
    };
    context_->ev.addWrite = [](void* p) {
        if (p != nullptr) static_cast<redis_connection*>(p)->want_write();
    };
    context_->ev.delWrite = [](void* p) {
        if (p != nullptr) static_cast<redis_connection*>(p)->write_wanted_ = false;
    };
    context_->ev.cleanup = [](void* p) {
        if (p != nullptr) static_cast<redis_connection*>(p)->detach();
    };
    redisAsyncSetConnectCallback(context_, &redis_connection::on_connect);
    // What makes the connection ready goes first: AUTH, then the subscriptions.
    if (!settings_.password.empty()) {
        const char* argv[] = {"AUTH", settings_.password.c_str()};
        const std::size_t lens[] = {4, settings_.password.size()};
        redisAsyncCommandArgv(context_, &redis_connection::on_ready_reply, nullptr, 2, argv, lens);
    }
    if (!channels_.empty()) {
        std::vector<const char*> argv{"SUBSCRIBE"};
        std::vector<std::size_t> lens{9};
        for (const auto& c : channels_) {
            argv.push_back(c.c_str());
            lens.push_back(c.size());
        }
        redisAsyncCommandArgv(context_, &redis_connection::on_message, nullptr,
                              static_cast<int>(argv.size()), argv.data(), lens.data());
    } else {
        const char* argv[] = {"PING"};
        const std::size_t lens[] = {4};
        redisAsyncCommandArgv(context_, &redis_connection::on_ready_reply, nullptr, 1, argv, lens);
    }
    // Not ready in time (a host that drops the SYN would take the kernel two minutes): given up,
    // and tried again.
    retry_timer_.expires_after(
        std::max<std::chrono::milliseconds>(2 * settings_.op_timeout, std::chrono::seconds{1}));
    retry_timer_.async_wait(
        [self = shared_from_this(), attempt = context_](boost::system::error_code ec) {
            if (ec || self->context_ != attempt || self->ready_.load(std::memory_order_relaxed))
                return;
            self->log_->debug("event=redis_connect_timeout connection={}", self->name_);
            redisAsyncFree(self->context_);  // its cleanup hook (detach()) retries
        });
}

void redis_connection::retry() {
    if (stopped_) return;
    retry_timer_.expires_after(retry_delay_);
    retry_delay_ = std::min<std::chrono::milliseconds>(retry_delay_ * 2, std::chrono::seconds{1});
    retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->connect();
    });
}

void redis_connection::want_read() {
    want(asio::posix::stream_descriptor::wait_read, reading_, read_wanted_, &redisAsyncHandleRead);
}

void redis_connection::want_write() {
    want(asio::posix::stream_descriptor::wait_write, writing_, write_wanted_,
         &redisAsyncHandleWrite);
}

void redis_connection::want(asio::posix::stream_descriptor::wait_type what, bool& armed,
                            bool& wanted, void (*handle)(redisAsyncContext*)) {
    wanted = true;
    if (armed || !socket_) return;
    armed = true;
    // `armed` and `wanted` are members of this object, which the handler keeps alive.
    socket_->async_wait(what, [self = shared_from_this(), what, &armed, &wanted,
                               handle](boost::system::error_code ec) {
        armed = false;
        if (ec || self->context_ == nullptr || !wanted) return;
        handle(self->context_);
        if (self->context_ != nullptr && wanted) self->want(what, armed, wanted, handle);
    });
}

void redis_connection::detach() {
    // hiredis 0.14 calls this twice on a loss (its disconnect, then its free): once is enough.
    if (context_ == nullptr) return;
    context_->ev.cleanup = nullptr;
    // hiredis frees its context (and closes its socket) after this: Asio lets the descriptor go
    // without closing it, and cancels its waits.
    if (socket_) {
        (void)socket_->release();
        socket_.reset();
    }
    read_wanted_ = write_wanted_ = false;
    context_ = nullptr;
    ready_.store(false, std::memory_order_relaxed);
    if (was_up_ && !stopped_) {
        log_->warn("event=redis_lost connection={}", name_);
        if (on_lost) on_lost();
    }
    was_up_ = false;
    // Posted: hiredis is still inside its own free.
    asio::post(strand_, [self = shared_from_this()] {
        if (self->context_ == nullptr) self->retry();
    });
}

void redis_connection::on_connect(const redisAsyncContext* c, int status) {
    auto* self = static_cast<redis_connection*>(c->data);
    if (self == nullptr || status == REDIS_OK) return;
    // hiredis frees the context after this (cleanup() runs, and retries).
    if (self->retry_delay_ == std::chrono::milliseconds{100})
        self->log_->debug("event=redis_connect_failed connection={} error={}", self->name_,
                          c->errstr);
}

void redis_connection::on_ready_reply(redisAsyncContext* c, void* r, void*) {
    auto* self = static_cast<redis_connection*>(c->data);
    if (self == nullptr || r == nullptr) return;
    const auto* answer = static_cast<redisReply*>(r);
    if (answer->type == REDIS_REPLY_ERROR) {
        self->log_->error("event=redis_refused connection={} error={}", self->name_,
                          std::string_view{answer->str, answer->len});
        redisAsyncDisconnect(c);
        return;
    }
    if (answer->type != REDIS_REPLY_STATUS || std::string_view{answer->str, answer->len} != "PONG")
        return;  // AUTH's OK: the PING's answer follows
    self->retry_delay_ = std::chrono::milliseconds{100};
    self->was_up_ = true;
    self->ready_.store(true, std::memory_order_relaxed);
    self->log_->info("event=redis_ready connection={}", self->name_);
    if (self->on_ready) self->on_ready();
}

void redis_connection::on_message(redisAsyncContext* c, void* r, void*) {
    auto* self = static_cast<redis_connection*>(c->data);
    if (self == nullptr || r == nullptr) return;
    const auto* m = static_cast<redisReply*>(r);
    if (m->type == REDIS_REPLY_ERROR) {
        self->log_->error("event=redis_refused connection={} error={}", self->name_,
                          std::string_view{m->str, m->len});
        redisAsyncDisconnect(c);
        return;
    }
    if (m->type != REDIS_REPLY_ARRAY || m->elements != 3) return;
    const std::string_view what{m->element[0]->str, m->element[0]->len};
    if (what == "subscribe") {
        // Ready once the last channel is subscribed (its count is the number of channels).
        if (m->element[2]->integer != static_cast<long long>(self->channels_.size())) return;
        self->retry_delay_ = std::chrono::milliseconds{100};
        self->was_up_ = true;
        self->ready_.store(true, std::memory_order_relaxed);
        self->log_->info("event=redis_ready connection={}", self->name_);
        if (self->on_ready) self->on_ready();
        return;
    }
    if (what != "message" || m->element[2]->type != REDIS_REPLY_STRING) return;
    if (self->on_message_)
        self->on_message_({m->element[1]->str, m->element[1]->len},
                          {m->element[2]->str, m->element[2]->len});
}

void redis_connection::on_reply(redisAsyncContext*, void* r, void* privdata) {
    auto* holder = static_cast<std::shared_ptr<pending>*>(privdata);
    const auto op = std::move(*holder);
    delete holder;
    op->done = true;
    if (r != nullptr) op->answer = copy_of(*static_cast<redisReply*>(r));
    op->timer.cancel();
}

namespace {

/// An EVALSHA Redis did not know (NOSCRIPT: restarted, flushed) as the EVAL of its script; false
/// when it is no such thing.
bool as_eval(const redis_connection::result& r, std::vector<std::string>& args) {
    if (!r || !r->is_error() || !r->text.starts_with("NOSCRIPT") || args.size() < 2 ||
        args[0] != "EVALSHA")
        return false;
    const auto script = scripts::script_named(args[1]);
    if (script.empty()) return false;
    args[0] = "EVAL";
    args[1] = script;
    return true;
}

}  // namespace

asio::awaitable<redis_connection::result> redis_connection::command(std::vector<std::string> args) {
    // Named first: GCC 12 mishandles a temporary built inside a co_await expression.
    auto there = asio::co_spawn(strand_, run(args), asio::use_awaitable);
    auto r = co_await std::move(there);
    if (as_eval(r, args)) {
        auto again = asio::co_spawn(strand_, run(args), asio::use_awaitable);
        r = co_await std::move(again);
    }
    co_return r;
}

asio::awaitable<redis_connection::result> redis_connection::run(
    const std::vector<std::string>& args) {
    // Keeps this object alive while the command waits.
    const auto self = shared_from_this();
    if (context_ == nullptr || !ready_.load(std::memory_order_relaxed))
        co_return redis_error::not_connected;
    auto op = std::make_shared<pending>(strand_);
    op->timer.expires_after(settings_.op_timeout);
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    auto* holder = new std::shared_ptr<pending>(op);
    if (redisAsyncCommandArgv(context_, &redis_connection::on_reply, holder,
                              static_cast<int>(argv.size()), argv.data(),
                              lens.data()) != REDIS_OK) {
        delete holder;
        co_return redis_error::not_connected;
    }
    co_await op->timer.async_wait(kit::use_nothrow);
    if (!op->done) co_return redis_error::timed_out;
    if (!op->answer) co_return redis_error::lost;
    co_return std::move(*op->answer);
}

}  // namespace rrpcd::cluster
