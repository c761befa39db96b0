// on_plane: work for a device plane runs on that plane's strand for its whole life, also when
// the caller is a coroutine of another plane that asio resumed inline inside this plane's strand
// (ThreadSanitizer found a call's pending entry touched from two threads that way: an HTTP
// session's second call to a device of another plane, right after its first came back).
#include "server/device_plane.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include <chrono>

namespace asio = boost::asio;
using rrpcd::server::on_plane;

namespace {

using strand = asio::strand<asio::io_context::executor_type>;

/// What on_plane needs of a plane, on a strand of the test's io_context. `by_thread`: the old
/// rule (the plane serves whoever runs inside its strand now), to show what it got wrong.
struct strand_plane {
    strand s;
    bool by_thread = false;
    asio::any_io_executor ex{s};
    bool serves(const asio::any_io_executor& e) const {
        return by_thread ? s.running_in_this_thread() : e == ex;
    }
    asio::any_io_executor executor() const { return ex; }
};

struct where {
    bool nested = false;  // after a hop to b returned, a's coroutine ran inside b's strand
    bool on_b_before = false, on_b_after = false, on_a_at_end = false;
};

/// A coroutine on `a` hops to `b` once, then gives `b` work that waits for a timer (a pending
/// call waits for its reply), and says where each part ran.
where run(bool by_thread) {
    asio::io_context io{1};
    strand a = asio::make_strand(io);
    strand_plane b{asio::make_strand(io), by_thread};
    where w;
    asio::co_spawn(
        a,
        [&]() -> asio::awaitable<void> {
            auto there = asio::co_spawn(
                b.executor(), []() -> asio::awaitable<void> { co_return; }, asio::use_awaitable);
            co_await std::move(there);
            w.nested = b.s.running_in_this_thread();
            auto work = [&]() -> asio::awaitable<void> {
                w.on_b_before = b.s.running_in_this_thread();
                const auto ex = co_await asio::this_coro::executor;
                asio::steady_timer t{ex, std::chrono::milliseconds{1}};
                co_await t.async_wait(asio::use_awaitable);
                w.on_b_after = b.s.running_in_this_thread();
            };
            co_await on_plane(b, work);
            w.on_a_at_end = a.running_in_this_thread();
        },
        asio::detached);
    io.run();
    return w;
}

}  // namespace

TEST_CASE("on_plane: work started from a coroutine resumed inside the plane's strand stays there",
          "[server][planes]") {
    const auto w = run(false);
    CHECK(w.nested);  // the premise (asio resumes the caller inline inside b)
    CHECK(w.on_b_before);
    CHECK(w.on_b_after);   // the work's timer (a call's) resumed on b
    CHECK(w.on_a_at_end);  // the caller resumes on its own strand
    // The old rule ran the work in a's coroutine, which resumed on a beside b's thread.
    const auto old = run(true);
    CHECK(old.nested);
    CHECK_FALSE(old.on_b_after);
}
