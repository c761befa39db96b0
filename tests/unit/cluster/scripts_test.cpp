// The cluster's Lua scripts against a real redis-server (on a Unix socket of a temporary
// directory), through the project's own Redis connection.
#include "cluster/scripts.hpp"
#include "catch_result.hpp"
#include "cluster/redis.hpp"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <csignal>
#include <filesystem>
#include <future>

#include <sys/wait.h>
#include <unistd.h>

using namespace rrpcd;
using namespace rrpcd::cluster;
namespace asio = boost::asio;

namespace {

/// A redis-server of the test's own, gone with it.
struct redis_server {
    std::filesystem::path dir;
    std::string socket;
    pid_t pid = -1;

    redis_server() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "rrpcd-redis-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        dir = pattern;
        socket = (dir / "redis.sock").string();
        pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", socket.c_str(),
                     "--save", "", "--appendonly", "no", "--dir", dir.c_str(), "--loglevel",
                     "warning", static_cast<char*>(nullptr));
            ::_exit(127);
        }
    }
    ~redis_server() {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

struct fixture {
    redis_server server;
    asio::io_context io;
    std::shared_ptr<redis_connection> redis;

    fixture() {
        config::cluster_settings s;
        s.redis = "unix://" + server.socket;
        s.unix_path = server.socket;
        s.op_timeout = std::chrono::milliseconds{2000};
        redis = std::make_shared<redis_connection>(
            io, s, "test",
            std::make_shared<spdlog::logger>("test",
                                             std::make_shared<spdlog::sinks::null_sink_mt>()));
        redis->start();
        // Until it answers (redis-server binds its socket within a few ms; 5 s at most).
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{5};
        while (!redis->ready() && std::chrono::steady_clock::now() < until)
            io.run_one_for(std::chrono::milliseconds{10});
        REQUIRE(redis->ready());
    }
    ~fixture() {
        redis->stop();
        io.run_for(std::chrono::milliseconds{100});
    }

    reply command(std::vector<std::string> args) {
        auto done = asio::co_spawn(io, redis->command(std::move(args)), asio::use_future);
        while (done.wait_for(std::chrono::seconds{0}) != std::future_status::ready)
            io.run_one_for(std::chrono::milliseconds{10});
        auto r = done.get();
        REQUIRE(r.has_value());
        return *r;
    }
    reply eval(std::string_view script, std::vector<std::string> keys,
               std::vector<std::string> args) {
        std::vector<std::string> argv{"EVAL", std::string{script}, std::to_string(keys.size())};
        argv.insert(argv.end(), keys.begin(), keys.end());
        argv.insert(argv.end(), args.begin(), args.end());
        auto r = command(std::move(argv));
        INFO(r.text);
        REQUIRE_FALSE(r.is_error());
        return r;
    }
};

std::vector<long long> ints(const reply& r) {
    std::vector<long long> out;
    for (const auto& e : r.elements) out.push_back(e.integer);
    return out;
}

}  // namespace

TEST_CASE("slot claim: the id asked for, else the remembered one, else the lowest free") {
    fixture f;
    auto r = f.eval(scripts::claim, {}, {"3", "pid=1 mqtt=a:1", "6000", "-1"});
    CHECK(ints(r) == std::vector<long long>{3, 1});
    // Held: the holder is named.
    r = f.eval(scripts::claim, {}, {"3", "pid=2", "6000", "-1"});
    REQUIRE(r.elements.size() == 2);
    CHECK(r.elements[0].integer == -1);
    CHECK(r.elements[1].text == "1 pid=1 mqtt=a:1");
    // Any: the lowest free; the remembered one when free.
    CHECK(ints(f.eval(scripts::claim, {}, {"-1", "pid=3", "6000", "-1"})) ==
          std::vector<long long>{0, 2});
    CHECK(ints(f.eval(scripts::claim, {}, {"-1", "pid=4", "6000", "9"})) ==
          std::vector<long long>{9, 3});
    CHECK(ints(f.eval(scripts::claim, {}, {"-1", "pid=5", "6000", "3"})) ==
          std::vector<long long>{1, 4});  // 3 is held: the lowest free
    // Its lease is the one asked.
    const auto ttl = f.command({"PTTL", "rrpcd:slot:3"}).integer;
    CHECK(ttl > 5000);
    CHECK(ttl <= 6000);
    for (int n = 0; n < 32; ++n) f.command({"SET", "rrpcd:slot:" + std::to_string(n), "9 x"});
    CHECK(ints(f.eval(scripts::claim, {}, {"-1", "pid=6", "6000", "-1"})) ==
          std::vector<long long>{-2});
}

TEST_CASE("slot renewal: renewed with its epoch, claimed again once lapsed, lost to another") {
    fixture f;
    REQUIRE(ints(f.eval(scripts::claim, {}, {"4", "pid=1", "1000", "-1"})) ==
            std::vector<long long>{4, 1});
    CHECK(ints(f.eval(scripts::renew, {}, {"4", "1", "6000", "pid=1"})) ==
          std::vector<long long>{1, 1, 0});
    CHECK(f.command({"PTTL", "rrpcd:slot:4"}).integer > 1000);
    f.command({"SET", "rrpcd:slot:30", "5 pid=7"});  // a peer
    CHECK(ints(f.eval(scripts::renew, {}, {"4", "1", "6000", "pid=1"})) ==
          std::vector<long long>{1, 1, 1});
    // Lapsed (Redis restarted empty, say): claimed again with a new epoch.
    f.command({"DEL", "rrpcd:slot:4"});
    CHECK(ints(f.eval(scripts::renew, {}, {"4", "1", "6000", "pid=1"})) ==
          std::vector<long long>{2, 2, 1});
    // Its own claim under an epoch it never heard of (a renewal claimed it again, and its
    // answer was lost): claimed again with that epoch, not lost to itself.
    f.command({"SET", "rrpcd:slot:4", "6 pid=1"});
    CHECK(ints(f.eval(scripts::renew, {}, {"4", "2", "6000", "pid=1"})) ==
          std::vector<long long>{2, 6, 1});
    // Another node holds it now: lost, its holder named.
    f.command({"SET", "rrpcd:slot:4", "7 pid=9"});
    const auto r = f.eval(scripts::renew, {}, {"4", "2", "6000", "pid=1"});
    REQUIRE(r.elements.size() == 2);
    CHECK(r.elements[0].integer == -1);
    CHECK(r.elements[1].text == "7 pid=9");
    // Released only by its holder.
    CHECK(f.eval(scripts::release, {}, {"4", "2"}).integer == 0);
    CHECK(f.eval(scripts::release, {}, {"4", "7"}).integer == 1);
    CHECK(f.command({"EXISTS", "rrpcd:slot:4"}).integer == 0);
}

TEST_CASE("presence: a login elsewhere names the session to kick, a late end changes nothing") {
    fixture f;
    const std::vector<std::string> key{"rrpcd:dev:a1PK/dev1"};
    CHECK(f.eval(scripts::online, key, {"1", "10", "100", "60", "login"}).elements.empty());
    // Node 2 takes it over: node 1's session 100 is named.
    auto r = f.eval(scripts::online, key, {"2", "20", "200", "60", "login"});
    REQUIRE(r.elements.size() == 2);
    CHECK(r.elements[0].integer == 1);
    CHECK(r.elements[1].text == "100");
    // Node 1's session ends late: not its record any more.
    CHECK(f.eval(scripts::offline, key, {"1", "10", "100", "lost"}).integer == 0);
    CHECK(f.command({"HGET", key[0], "state"}).text == "on");
    CHECK(f.command({"HGET", key[0], "node"}).text == "2");
    // The same node's new session (a takeover there) names nothing to kick elsewhere… but the
    // old session: the node itself closed it already.
    r = f.eval(scripts::online, key, {"2", "20", "201", "60", "login"});
    REQUIRE(r.elements.size() == 2);
    CHECK(r.elements[0].integer == 2);
    // Lost: kept for one keep-alive; left: gone.
    CHECK(f.eval(scripts::offline, key, {"2", "20", "201", "lost"}).integer == 1);
    CHECK(f.command({"HGET", key[0], "state"}).text == "lost");
    const auto ttl = f.command({"PTTL", key[0]}).integer;
    CHECK(ttl > 60000);
    CHECK(ttl <= 61000);
    f.eval(scripts::online, key, {"2", "20", "202", "60", "login"});
    CHECK(f.command({"PTTL", key[0]}).integer == -1);  // online: kept
    CHECK(f.eval(scripts::offline, key, {"2", "20", "202", "left"}).integer == 1);
    CHECK(f.command({"EXISTS", key[0]}).integer == 0);
}

TEST_CASE("presence: a session written again after an outage yields to another live node") {
    fixture f;
    const std::vector<std::string> key{"rrpcd:dev:a1PK/dev1"};
    f.command({"SET", "rrpcd:slot:2", "20 pid=2"});
    f.eval(scripts::online, key, {"2", "20", "200", "60", "login"});
    CHECK(ints(f.eval(scripts::online, key, {"1", "11", "100", "60", "reassert"})) ==
          std::vector<long long>{-1});
    CHECK(f.command({"HGET", key[0], "node"}).text == "2");
    // Node 2's lease gone (or another epoch): node 1's session is the device's again.
    f.command({"SET", "rrpcd:slot:2", "21 pid=2"});
    CHECK(f.eval(scripts::online, key, {"1", "11", "100", "60", "reassert"}).elements.size() == 2);
    CHECK(f.command({"HGET", key[0], "node"}).text == "1");
}

TEST_CASE("route: offline, half-connected, published to the owner's inbox, or online there") {
    fixture f;
    const std::vector<std::string> key{"rrpcd:dev:a1PK/dev1"};
    CHECK(ints(f.eval(scripts::route, key, {"call"})) == std::vector<long long>{0});
    f.command({"SET", "rrpcd:slot:3", "30 pid=3"});
    f.eval(scripts::online, key, {"3", "30", "300", "60", "login"});
    CHECK(ints(f.eval(scripts::route, key, {""})) == std::vector<long long>{3, 3});
    // Nobody listens on node 3's inbox: the call is not sent.
    CHECK(ints(f.eval(scripts::route, key, {"call"})) == std::vector<long long>{1});
    // Node 3's lease gone: half-connected, and the record reaped as lost.
    f.command({"DEL", "rrpcd:slot:3"});
    CHECK(ints(f.eval(scripts::route, key, {"call"})) == std::vector<long long>{1});
    CHECK(f.command({"HGET", key[0], "state"}).text == "lost");
    CHECK(ints(f.eval(scripts::route, key, {"call"})) == std::vector<long long>{1});
    // Lost longer than its keep-alive ago: offline.
    f.command({"HSET", key[0], "time", "1000"});
    CHECK(ints(f.eval(scripts::route, key, {"call"})) == std::vector<long long>{0});
    // A keep-alive of 0: offline at once when its node goes.
    f.command({"SET", "rrpcd:slot:3", "31 pid=3"});
    f.eval(scripts::online, key, {"3", "31", "301", "0", "login"});
    f.command({"DEL", "rrpcd:slot:3"});
    CHECK(ints(f.eval(scripts::route, key, {"call"})) == std::vector<long long>{0});
}

TEST_CASE("status: many devices' liveness in one round trip, as route says") {
    fixture f;
    f.command({"SET", "rrpcd:slot:1", "10 pid=1"});
    const std::vector<std::string> on{"rrpcd:dev:p/on"}, lost{"rrpcd:dev:p/lost"},
        orphan{"rrpcd:dev:p/orphan"};
    f.eval(scripts::online, on, {"1", "10", "1", "60", "login"});
    f.eval(scripts::online, lost, {"1", "10", "2", "60", "login"});
    f.eval(scripts::offline, lost, {"1", "10", "2", "lost"});
    f.eval(scripts::online, orphan, {"5", "50", "3", "60", "login"});  // node 5 holds no slot
    const auto r = f.eval(scripts::status, {on[0], lost[0], orphan[0], "rrpcd:dev:p/never"}, {});
    CHECK(ints(r) == std::vector<long long>{3, 1, 1, 0});
    CHECK(f.command({"HGET", orphan[0], "state"}).text == "lost");  // reaped
}

TEST_CASE("catalog: put, delete, a first start's seed keeps what is there, a first login merges") {
    fixture f;
    const auto field = [&](std::string_view hash, std::string_view key) {
        return f.command({"HGET", std::string{hash}, std::string{key}});
    };
    // put: written and told (nobody listens here: PUBLISH counts no receivers).
    CHECK(f.eval(scripts::catalog_write, {},
                 {"d", "pk/dev1", R"({"secret":"s1","active_ms":0,"disabled":false})", "p", "pk",
                  R"({"name":"P"})", "put"})
              .integer == 2);
    CHECK(field("rrpcd:devices", "pk/dev1").text ==
          R"({"secret":"s1","active_ms":0,"disabled":false})");
    CHECK(f.command({"EXISTS", "rrpcd:catalog:seeded"}).integer == 0);
    // seed: what another node wrote stays; what is new is added; the cluster now has a catalog.
    CHECK(f.eval(scripts::catalog_write, {},
                 {"d", "pk/dev1", R"({"secret":"old"})", "d", "pk/dev2", R"({"secret":"s2"})",
                  "seed"})
              .integer == 1);
    CHECK(field("rrpcd:devices", "pk/dev1").text.find("\"s1\"") != std::string::npos);
    CHECK(field("rrpcd:devices", "pk/dev2").text == R"({"secret":"s2"})");
    CHECK(f.command({"GET", "rrpcd:catalog:seeded"}).text == "1");
    // active: only a record without a first login gets one; a change made meanwhile stays.
    f.eval(scripts::catalog_write, {},
           {"d", "pk/dev1", R"({"secret":"s1","active_ms":0,"disabled":true})", "put"});
    CHECK(f.eval(scripts::catalog_write, {}, {"d", "pk/dev1", "1700000000000", "active"}).integer ==
          1);
    CHECK(field("rrpcd:devices", "pk/dev1").text ==
          R"({"secret":"s1","active_ms":1700000000000,"disabled":true})");
    CHECK(f.eval(scripts::catalog_write, {}, {"d", "pk/dev1", "1800000000000", "active"}).integer ==
          0);  // already set
    CHECK(f.eval(scripts::catalog_write, {}, {"d", "pk/none", "1800000000000", "active"}).integer ==
          0);  // deleted meanwhile: not brought back
    CHECK(f.command({"HEXISTS", "rrpcd:devices", "pk/none"}).integer == 0);
    // delete: an empty record.
    CHECK(f.eval(scripts::catalog_write, {}, {"d", "pk/dev2", "", "put"}).integer == 1);
    CHECK(f.command({"HEXISTS", "rrpcd:devices", "pk/dev2"}).integer == 0);
}

TEST_CASE("scripts go by EVALSHA: a Redis without the script (flushed, restarted) gets it once") {
    fixture f;
    const auto argv = scripts::script_call(scripts::status, {"rrpcd:dev:pk/none"}, {});
    REQUIRE(argv.size() == 4);
    CHECK(argv[0] == "EVALSHA");
    CHECK(argv[1].size() == 40);
    CHECK(scripts::script_named(argv[1]) == scripts::status);
    CHECK(scripts::script_named("0000") == "");
    f.command({"SCRIPT", "FLUSH"});
    CHECK(f.command({"SCRIPT", "EXISTS", argv[1]}).elements.at(0).integer == 0);
    // NOSCRIPT, then its EVAL: answered as any call.
    auto r = f.command(argv);
    CHECK(ints(r) == std::vector<long long>{0});
    CHECK(f.command({"SCRIPT", "EXISTS", argv[1]}).elements.at(0).integer == 1);
    CHECK(ints(f.command(argv)) == std::vector<long long>{0});
}

TEST_CASE("park: a device online nowhere gets its message queued, up to the bound, else refused") {
    fixture f;
    const std::vector<std::string> keys{"rrpcd:dev:pk/dn", "rrpcd:q:pk/dn"};
    CHECK(f.eval(scripts::park, keys, {"m1", "2"}).integer == 1);
    CHECK(f.eval(scripts::park, keys, {"m2", "2"}).integer == 2);
    CHECK(f.eval(scripts::park, keys, {"m3", "2"}).integer == -1);  // full
    // Lost (or a dead node's record): still parked for its next login.
    f.command({"HSET", "rrpcd:dev:pk/dn", "node", "5", "epoch", "7", "state", "lost"});
    CHECK(f.eval(scripts::park, keys, {"m3", "3"}).integer == 3);
    // Online on a node whose lease holds that epoch: not parked (it goes to that node).
    f.command({"HSET", "rrpcd:dev:pk/dn", "state", "on"});
    f.command({"SET", "rrpcd:slot:5", "7 pid=1"});
    CHECK(f.eval(scripts::park, keys, {"m4", "9"}).integer == -2);
    // The node's lease renewed with another epoch: its record no longer counts.
    f.command({"SET", "rrpcd:slot:5", "8 pid=2"});
    CHECK(f.eval(scripts::park, keys, {"m4", "9"}).integer == 4);
    const auto queued = f.command({"LRANGE", "rrpcd:q:pk/dn", "0", "-1"});
    REQUIRE(queued.elements.size() == 4);
    CHECK(queued.elements[0].text == "m1");
    CHECK(queued.elements[3].text == "m4");
}
