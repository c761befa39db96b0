// What a device plane's two ways of sharing cost (README "Threads"): a lock taken and released
// uncontended (the node's services), against a message to another plane's strand and back (the
// device state), and the same call when the device is on the caller's own plane (no hop).
//   build/bench/plane_hop [rounds]
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

namespace {

asio::awaitable<int> answer(int x) {
    co_return x + 1;
}

double ns_per(clock_type::duration d, long rounds) {
    return std::chrono::duration<double, std::nano>(d).count() / static_cast<double>(rounds);
}

}  // namespace

int main(int argc, char** argv) {
    const long rounds = argc > 1 ? std::atol(argv[1]) : 200'000;

    std::mutex m;
    long sum = 0;
    auto t0 = clock_type::now();
    for (long i = 0; i < rounds * 10; ++i) {
        const std::lock_guard lock{m};
        sum += i;
    }
    const auto lock_ns = ns_per(clock_type::now() - t0, rounds * 10);

    asio::io_context io{2};
    auto home = asio::make_strand(io);
    auto other = asio::make_strand(io);
    double here_ns = 0, hop_ns = 0;
    asio::co_spawn(
        home,
        [&]() -> asio::awaitable<void> {
            auto start = clock_type::now();
            for (long i = 0; i < rounds; ++i) sum += co_await answer(static_cast<int>(i));
            here_ns = ns_per(clock_type::now() - start, rounds);
            start = clock_type::now();
            for (long i = 0; i < rounds; ++i) {
                auto there =
                    asio::co_spawn(other, answer(static_cast<int>(i)), asio::use_awaitable);
                sum += co_await std::move(there);
            }
            hop_ns = ns_per(clock_type::now() - start, rounds);
        },
        asio::detached);
    std::thread second{[&] { io.run(); }};
    io.run();
    second.join();
    std::printf("uncontended lock+unlock: %.1f ns\n", lock_ns);
    std::printf("call on its own plane (an awaited coroutine): %.1f ns\n", here_ns);
    std::printf("call on another plane and back (co_spawn on its strand, awaited): %.1f ns\n",
                hop_ns);
    std::printf("a hop costs %.0f locks\n", hop_ns / lock_ns);
    return sum == 42 ? 1 : 0;  // keeps the loops
}
