// rrpc_bench: the driver of bench/run.sh. It plays echo devices over MQTT and a requester, against
// rrpcd (signed V1 RRpc over HTTP keep-alive) or against a bare broker (mosquitto: publish to the
// device's request topic, wait for its echo on the response topic, the best a user can do). It
// prints one JSON line of figures per run; the server's CPU time comes from /proc/PID/stat.
//
//   rrpc_bench reqrep  --target rrpcd|broker --mqtt PORT [--http PORT] --pid PID
//                      --devices N --concurrency C --calls K [--payload BYTES]
//   rrpc_bench idle    --target rrpcd|broker --mqtt PORT --pid PID --devices N [--tls 1]
//                      (--tls 1: the devices log in over TLS, securemode=2, as the Link SDKs do)
//   rrpc_bench timeout --mqtt PORT --http PORT --pid PID --calls K --concurrency C
//   rrpc_bench async   --target rrpcd|broker --mqtt PORT [--http PORT] --pid PID --devices N
//                      --rate R --seconds S   (answered async calls at a steady rate; RSS each
//                      minute)
//   rrpc_bench config  --devices N [--store PATH] [--threads T] [--tls-dir DIR]  (prints the
//                      rrpcd TOML for N bench devices; DIR holds server.crt and server.key)
#include "http/signature.hpp"
#include "kit/base64.hpp"
#include "kit/crypto.hpp"
#include "kit/use_nothrow.hpp"
#include "mqtt/codec.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace json = boost::json;
using namespace rrpcd;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr const char* product_key = "a1bench";
constexpr const char* access_key_id = "LTAIbenchKey";
constexpr const char* access_key_secret = "bench-secret";

std::string device_name(int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "dev%05d", i);
    return buf;
}
std::string device_secret(int i) {
    return "secret-" + std::to_string(i);
}

struct options {
    std::string mode, target = "rrpcd";
    std::uint16_t mqtt_port = 0, http_port = 0;
    int pid = 0, devices = 20, concurrency = 16, calls = 10000, payload = 64, timeout_ms = 1000;
    int rate = 1000, seconds = 60, threads = -1;
    bool tls = false;
    std::string store, tls_dir;
};

/// The devices' TLS context (--tls 1): no verification, the driver measures the server's cost.
asio::ssl::context* client_tls = nullptr;

/// utime + stime of a process, in seconds.
double cpu_seconds(int pid) {
    std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
    std::string text((std::istreambuf_iterator<char>(in)), {});
    std::istringstream fields{text.substr(text.rfind(')') + 2)};
    std::string f;
    double ticks = 0;
    for (int i = 3; fields >> f && i <= 15; ++i)
        if (i == 14 || i == 15) ticks += std::stod(f);
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// Resident set size of a process, in KiB.
long rss_kib(int pid) {
    std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0;
}

double self_cpu_seconds() {
    return cpu_seconds(static_cast<int>(getpid()));
}

// ---- MQTT -----------------------------------------------------------------------------------

/// A minimal MQTT 3.1.1 client on the project's codec: connect, subscribe, publish, read.
struct mqtt_client {
    tcp::socket socket;
    std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;  // over `socket` with --tls 1
    std::vector<std::uint8_t> in;
    explicit mqtt_client(asio::any_io_executor ex) : socket(ex) {}

    asio::awaitable<bool> send(const mqtt::packet& p) {
        std::vector<std::uint8_t> out;
        mqtt::encode(p, out);
        // One co_await per statement (GCC 12 and temporaries in co_await expressions).
        if (tls) {
            auto [ec, n] = co_await asio::async_write(*tls, asio::buffer(out), kit::use_nothrow);
            co_return !ec;
        }
        auto [ec, n] = co_await asio::async_write(socket, asio::buffer(out), kit::use_nothrow);
        co_return !ec;
    }
    /// The next packet, or nullopt when the connection ended.
    asio::awaitable<std::optional<mqtt::packet>> next() {
        for (;;) {
            const auto f = mqtt::read_frame(in, 1 << 22);
            if (f.status == mqtt::frame_result::status::complete) {
                auto p = mqtt::decode(f.header, f.body);
                in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(f.size));
                if (!p) co_return std::nullopt;
                co_return std::move(*p);
            }
            if (f.status != mqtt::frame_result::status::need_more) co_return std::nullopt;
            const auto old = in.size();
            in.resize(old + 65536);
            const auto room = asio::buffer(in.data() + old, 65536);
            std::size_t n = 0;
            boost::system::error_code ec;
            if (tls)
                std::tie(ec, n) = co_await tls->async_read_some(room, kit::use_nothrow);
            else
                std::tie(ec, n) = co_await socket.async_read_some(room, kit::use_nothrow);
            in.resize(old + n);
            if (ec) co_return std::nullopt;
        }
    }
    /// TCP connect, CONNECT with Alibaba's login (ignored by a broker allowing anonymous), CONNACK.
    asio::awaitable<bool> login(std::uint16_t port, int i, std::uint16_t keep_alive = 600) {
        auto [ec] = co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port},
                                                  kit::use_nothrow);
        if (ec) co_return false;
        socket.set_option(tcp::no_delay{true});
        if (client_tls != nullptr) {
            tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket, *client_tls);
            auto [hec] =
                co_await tls->async_handshake(asio::ssl::stream_base::client, kit::use_nothrow);
            if (hec) co_return false;
        }
        const std::string id = "b" + std::to_string(i);
        const auto parts = id + (client_tls != nullptr ? "|securemode=2,signmethod=hmacsha1|"
                                                       : "|securemode=3,signmethod=hmacsha1|");
        mqtt::connect c;
        c.client_id = parts;
        c.keep_alive = keep_alive;
        c.username = device_name(i) + "&" + product_key;
        const auto content =
            "clientId" + id + "deviceName" + device_name(i) + "productKey" + product_key;
        c.password = kit::to_hex(kit::hmac(kit::hmac_algorithm::sha1, device_secret(i), content));
        const mqtt::packet p = std::move(c);
        if (!co_await send(p)) co_return false;
        auto ack = co_await next();
        co_return ack&& std::holds_alternative<mqtt::connack>(*ack) &&
            std::get<mqtt::connack>(*ack).code == mqtt::connect_return_code::accepted;
    }
    asio::awaitable<bool> subscribe(const std::string& filter,
                                    mqtt::qos qos = mqtt::qos::at_most_once) {
        // Named first: GCC 12 mishandles temporaries inside co_await expressions.
        const mqtt::packet sub = mqtt::subscribe{1, {{filter, qos}}};
        if (!co_await send(sub)) co_return false;
        auto ack = co_await next();
        co_return ack&& std::holds_alternative<mqtt::suback>(*ack);
    }
};

std::string request_filter(int i) {
    return std::string{"/sys/"} + product_key + "/" + device_name(i) + "/rrpc/request/+";
}

/// An echo device: answers every request on its response topic with the same bytes.
asio::awaitable<void> echo_device(std::shared_ptr<mqtt_client> c) {
    for (;;) {
        auto p = co_await c->next();
        if (!p) co_return;
        auto* pub = std::get_if<mqtt::publish>(&*p);
        if (pub == nullptr) continue;
        auto topic = pub->topic;
        topic.replace(topic.find("/rrpc/request/"), 14, "/rrpc/response/");
        const mqtt::packet reply =
            mqtt::publish{false, mqtt::qos::at_most_once, false, topic, 0, std::move(pub->payload)};
        if (!co_await c->send(reply)) co_return;
    }
}

/// Runs the coroutines `make(0)`..`make(count - 1)` concurrently and waits for all of them.
template <class Make>
asio::awaitable<void> run_all(int count, Make make) {
    auto ex = co_await asio::this_coro::executor;
    int done = 0;
    asio::steady_timer all{ex, asio::steady_timer::time_point::max()};
    for (int i = 0; i < count; ++i)
        asio::co_spawn(ex, make(i), [&](std::exception_ptr) {
            if (++done == count) all.cancel();
        });
    if (done < count) co_await all.async_wait(kit::use_nothrow);
}

// ---- figures --------------------------------------------------------------------------------

struct run_stats {
    std::vector<double> latencies_us;
    std::uint64_t errors = 0;
};

json::object summarise(run_stats& s, double wall_s, double server_cpu_s, double driver_cpu_s) {
    std::sort(s.latencies_us.begin(), s.latencies_us.end());
    const auto q = [&](double x) {
        return s.latencies_us.empty()
                   ? 0.0
                   : s.latencies_us[std::min(
                         s.latencies_us.size() - 1,
                         static_cast<std::size_t>(x * static_cast<double>(s.latencies_us.size())))];
    };
    const auto n = static_cast<double>(s.latencies_us.size());
    json::object o;
    o["calls"] = s.latencies_us.size();
    o["errors"] = s.errors;
    o["calls_per_s"] = n / wall_s;
    o["p50_us"] = q(0.5);
    o["p90_us"] = q(0.9);
    o["p99_us"] = q(0.99);
    o["max_us"] = s.latencies_us.empty() ? 0.0 : s.latencies_us.back();
    o["server_cpu_us_per_call"] = n > 0 ? server_cpu_s * 1e6 / n : 0.0;
    o["driver_cpu_share"] = driver_cpu_s / wall_s;  // near 1.0: the driver was the bottleneck
    return o;
}

// ---- request/reply ----------------------------------------------------------------------------

struct shared_run {
    const options& opt;
    run_stats stats;
    int issued = 0;
    std::string payload;
    std::string expect = "SUCCESS";                       ///< the RrpcCode every call must end with
    kit::hmac_key key = http::v1_key(access_key_secret);  ///< set up once, as an SDK could
};

/// A signed V1 GET target for `params` (the action's own) with the common parameters added.
std::string signed_target(kit::hmac_key& key, http::param_list params, std::mt19937_64& rng) {
    char stamp[32];
    const auto now = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    params.insert(params.end(), {{"AccessKeyId", access_key_id},
                                 {"Format", "JSON"},
                                 {"SignatureMethod", "HMAC-SHA1"},
                                 {"SignatureNonce", std::to_string(rng())},
                                 {"SignatureVersion", "1.0"},
                                 {"Timestamp", stamp},
                                 {"Version", "2018-01-20"}});
    std::sort(params.begin(), params.end());
    const auto sig =
        http::v1_signature(key, http::v1_string_to_sign("GET", http::views_of(params)));
    std::string target = "/?";
    for (const auto& [k, v] : params)
        target += http::percent_encode(k) + "=" + http::percent_encode(v) + "&";
    target += "Signature=" + http::percent_encode(sig);
    return target;
}

/// One rrpcd requester: a keep-alive HTTP connection making signed V1 RRpc calls one at a time.
asio::awaitable<void> http_requester(shared_run& run, int index) {
    auto ex = co_await asio::this_coro::executor;
    beast::tcp_stream stream{ex};
    auto [ec] = co_await stream.async_connect(
        tcp::endpoint{asio::ip::make_address("127.0.0.1"), run.opt.http_port}, kit::use_nothrow);
    if (ec) {
        ++run.stats.errors;
        co_return;
    }
    stream.socket().set_option(tcp::no_delay{true});
    beast::flat_buffer buffer;
    // Fresh nonces in every run: rrpcd refuses a nonce it has seen within 15 minutes.
    std::mt19937_64 rng{std::random_device{}() ^ (static_cast<std::uint64_t>(index) << 32)};
    const auto b64 = kit::base64_encode(run.payload);
    while (run.issued < run.opt.calls) {
        const int device = run.issued++ % run.opt.devices;
        const auto target = signed_target(run.key,
                                          {{"Action", "RRpc"},
                                           {"DeviceName", device_name(device)},
                                           {"ProductKey", product_key},
                                           {"RequestBase64Byte", b64},
                                           {"Timeout", std::to_string(run.opt.timeout_ms)}},
                                          rng);
        bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
        req.set(bhttp::field::host, "127.0.0.1");
        const auto t0 = clock_type::now();
        auto [wec, wn] = co_await bhttp::async_write(stream, req, kit::use_nothrow);
        bhttp::response<bhttp::string_body> res;
        auto [rec, rn] = co_await bhttp::async_read(stream, buffer, res, kit::use_nothrow);
        if (wec || rec) {
            ++run.stats.errors;
            co_return;
        }
        boost::system::error_code jec;
        const auto body = json::parse(res.body(), jec);
        const auto* o = jec ? nullptr : body.if_object();
        const bool ok = o && o->contains("RrpcCode") &&
                        o->at("RrpcCode").as_string() == run.expect &&
                        (run.expect != "SUCCESS" || o->at("PayloadBase64Byte").as_string() ==
                                                        b64);  // the echo is checked byte for byte
        if (!ok) {
            ++run.stats.errors;
            continue;
        }
        run.stats.latencies_us.push_back(
            std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
    }
}

/// The bare-broker requester: publishes requests, waits for each echo on the response topic.
asio::awaitable<void> broker_requester(shared_run& run, std::shared_ptr<mqtt_client> c) {
    std::unordered_map<std::uint64_t, clock_type::time_point> in_flight;
    std::uint64_t next_id = 1;
    const auto issue = [&]() -> mqtt::packet {
        const int device = run.issued++ % run.opt.devices;
        const auto id = next_id++;
        in_flight[id] = clock_type::now();
        return mqtt::publish{false,
                             mqtt::qos::at_most_once,
                             false,
                             std::string{"/sys/"} + product_key + "/" + device_name(device) +
                                 "/rrpc/request/" + std::to_string(id),
                             0,
                             run.payload};
    };
    for (int i = 0; i < run.opt.concurrency && run.issued < run.opt.calls; ++i) {
        auto p = issue();
        co_await c->send(p);
    }
    while (!in_flight.empty()) {
        auto p = co_await c->next();
        if (!p) co_return;
        auto* pub = std::get_if<mqtt::publish>(&*p);
        if (pub == nullptr) continue;
        const auto id = std::stoull(pub->topic.substr(pub->topic.rfind('/') + 1));
        const auto it = in_flight.find(id);
        if (it == in_flight.end()) continue;
        if (pub->payload != run.payload)
            ++run.stats.errors;
        else
            run.stats.latencies_us.push_back(
                std::chrono::duration<double, std::micro>(clock_type::now() - it->second).count());
        in_flight.erase(it);
        if (run.issued < run.opt.calls) {
            auto next = issue();
            co_await c->send(next);
        }
    }
}

asio::awaitable<void> connect_devices(const options& opt,
                                      std::vector<std::shared_ptr<mqtt_client>>& out, int first,
                                      int count, bool echo) {
    auto ex = co_await asio::this_coro::executor;
    for (int i = first; i < first + count; ++i) {
        auto c = std::make_shared<mqtt_client>(ex);
        if (!co_await c->login(opt.mqtt_port, i) || !co_await c->subscribe(request_filter(i))) {
            std::cerr << "device " << i << " failed to connect\n";
            std::exit(1);
        }
        if (echo) asio::co_spawn(ex, echo_device(c), asio::detached);
        out.push_back(std::move(c));
    }
}

asio::awaitable<void> reqrep(const options& opt) {
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::shared_ptr<mqtt_client>> devices;
    co_await connect_devices(opt, devices, 0, opt.devices, true);
    shared_run run{opt, {}, 0, std::string(static_cast<std::size_t>(opt.payload), 'x')};
    run.stats.latencies_us.reserve(static_cast<std::size_t>(opt.calls));
    std::shared_ptr<mqtt_client> requester;
    if (opt.target == "broker") {
        requester = std::make_shared<mqtt_client>(ex);
        if (!co_await requester->login(opt.mqtt_port, 999999) ||
            !co_await requester->subscribe("/sys/+/+/rrpc/response/+"))
            std::exit(1);
    }
    const auto cpu0 = cpu_seconds(opt.pid);
    const auto self0 = self_cpu_seconds();
    const auto t0 = clock_type::now();
    if (opt.target == "broker") {
        co_await broker_requester(run, requester);
    } else {
        const auto requester_n = [&run](int i) { return http_requester(run, i); };
        co_await run_all(opt.concurrency, requester_n);
    }
    const double wall = std::chrono::duration<double>(clock_type::now() - t0).count();
    auto o = summarise(run.stats, wall, cpu_seconds(opt.pid) - cpu0, self_cpu_seconds() - self0);
    o["mode"] = "reqrep";
    o["target"] = opt.target;
    o["devices"] = opt.devices;
    o["concurrency"] = opt.concurrency;
    std::cout << json::serialize(o) << std::endl;
    for (auto& d : devices) d->socket.close();
    if (requester) requester->socket.close();
}

// ---- idle devices ---------------------------------------------------------------------------

asio::awaitable<void> idle(const options& opt) {
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::shared_ptr<mqtt_client>> devices;
    devices.reserve(static_cast<std::size_t>(opt.devices));
    const auto rss0 = rss_kib(opt.pid);
    const auto t0 = clock_type::now();
    // 64 login pipelines in parallel, like a fleet coming back after an outage.
    constexpr int lanes = 64;
    std::vector<std::vector<std::shared_ptr<mqtt_client>>> parts(lanes);
    const int per = (opt.devices + lanes - 1) / lanes;
    const auto lane = [&](int l) {
        return connect_devices(opt, parts[static_cast<std::size_t>(l)], l * per,
                               std::max(0, std::min(per, opt.devices - l * per)), false);
    };
    co_await run_all(lanes, lane);
    const double login_s = std::chrono::duration<double>(clock_type::now() - t0).count();
    const auto rss1 = rss_kib(opt.pid);
    const auto cpu0 = cpu_seconds(opt.pid);
    asio::steady_timer quiet{ex, std::chrono::seconds{5}};
    co_await quiet.async_wait(kit::use_nothrow);
    json::object o;
    o["mode"] = opt.tls ? "idle_tls" : "idle";
    o["target"] = opt.target;
    o["devices"] = opt.devices;
    o["login_s"] = login_s;
    o["rss_start_kib"] = rss0;
    o["rss_kib"] = rss1;
    o["rss_per_device_bytes"] = static_cast<double>(rss1 - rss0) * 1024.0 / opt.devices;
    o["idle_cpu_share"] = (cpu_seconds(opt.pid) - cpu0) / 5.0;
    std::cout << json::serialize(o) << std::endl;
    for (auto& p : parts)
        for (auto& d : p) d->socket.close();
}

// ---- timeouts -------------------------------------------------------------------------------

asio::awaitable<void> timeouts(options opt) {
    // Device 0 is subscribed and never answers.
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::shared_ptr<mqtt_client>> devices;
    co_await connect_devices(opt, devices, 0, 1, false);
    asio::co_spawn(
        ex,
        [](std::shared_ptr<mqtt_client> c) -> asio::awaitable<void> {
            while (co_await c->next()) {
            }  // drain, never answer
        }(devices[0]),
        asio::detached);
    // Two identical rounds. The first may raise RSS to a new high-water mark (glibc keeps freed
    // heap); the second must not raise it further: calls that time out leave nothing behind.
    opt.devices = 1;
    const auto rss0 = rss_kib(opt.pid);
    shared_run warm{opt, {}, 0, "t", "TIMEOUT"};
    const auto warm_n = [&warm](int i) { return http_requester(warm, i); };
    co_await run_all(opt.concurrency, warm_n);
    const auto rss1 = rss_kib(opt.pid);
    shared_run run{opt, {}, 0, "t", "TIMEOUT"};
    // Each call must come back TIMEOUT: those count as error-free latencies.
    const auto requester_n = [&run](int i) { return http_requester(run, i); };
    co_await run_all(opt.concurrency, requester_n);
    const auto rss2 = rss_kib(opt.pid);
    auto& l = run.stats.latencies_us;
    l.insert(l.end(), warm.stats.latencies_us.begin(), warm.stats.latencies_us.end());
    run.stats.errors += warm.stats.errors;
    std::sort(l.begin(), l.end());
    json::object o;
    o["mode"] = "timeout";
    o["timeout_ms"] = opt.timeout_ms;
    o["calls"] = l.size();
    o["errors"] = run.stats.errors;
    // How late each TIMEOUT came after Timeout (the client's own overhead included).
    o["late_min_ms"] = l.empty() ? 0.0 : l.front() / 1000 - opt.timeout_ms;
    o["late_p99_ms"] = l.empty() ? 0.0 : l[l.size() * 99 / 100] / 1000 - opt.timeout_ms;
    o["late_max_ms"] = l.empty() ? 0.0 : l.back() / 1000 - opt.timeout_ms;
    o["rss_before_kib"] = rss0;       // before the first round
    o["rss_after_first_kib"] = rss1;  // the high-water mark the first round set
    o["rss_after_kib"] = rss2;        // after the second round: must not exceed rss1
    std::cout << json::serialize(o) << std::endl;
    devices[0]->socket.close();
}

// ---- answered async calls at a steady rate ------------------------------------------------

struct async_run {
    const options& opt;
    std::uint64_t accepted = 0, refused = 0, answered = 0, slot = 0;
    std::string first_refusal{};
    clock_type::time_point t0{}, end{};
    kit::hmac_key key = http::v1_key(access_key_secret);
};

std::string get_topic(int i) {
    return std::string{"/"} + product_key + "/" + device_name(i) + "/user/get";
}

/// A device that answers every request on `{topic}_reply` at once (PUBACKing a QoS 1 one).
asio::awaitable<void> answering_device(async_run& run, std::shared_ptr<mqtt_client> c) {
    for (;;) {
        auto p = co_await c->next();
        if (!p) co_return;
        auto* pub = std::get_if<mqtt::publish>(&*p);
        if (pub == nullptr) continue;
        if (pub->qos == mqtt::qos::at_least_once) {
            const mqtt::packet ack = mqtt::puback{pub->packet_id};
            if (!co_await c->send(ack)) co_return;
        }
        const mqtt::packet reply = mqtt::publish{
            false, mqtt::qos::at_most_once, false, pub->topic + "_reply", 0, "re:" + pub->payload};
        if (!co_await c->send(reply)) co_return;
        ++run.answered;
    }
}

/// Waits for the next slot of the schedule (one call every 1/rate s from t0); false at the end.
asio::awaitable<bool> next_slot(async_run& run, asio::steady_timer& pace, std::uint64_t& slot) {
    slot = run.slot++;
    const auto at =
        run.t0 + std::chrono::duration_cast<clock_type::duration>(
                     std::chrono::duration<double>(static_cast<double>(slot) / run.opt.rate));
    if (at >= run.end) co_return false;
    pace.expires_at(at);
    co_await pace.async_wait(kit::use_nothrow);
    co_return true;
}

/// One AsyncRRpc caller on a keep-alive connection, taking the schedule's next slot each time.
asio::awaitable<void> async_caller(async_run& run, int index) {
    auto ex = co_await asio::this_coro::executor;
    beast::tcp_stream stream{ex};
    auto [ec] = co_await stream.async_connect(
        tcp::endpoint{asio::ip::make_address("127.0.0.1"), run.opt.http_port}, kit::use_nothrow);
    if (ec) co_return;
    beast::flat_buffer buffer;
    std::mt19937_64 rng{std::random_device{}() ^ (static_cast<std::uint64_t>(index) << 32)};
    asio::steady_timer pace{ex};
    std::uint64_t slot = 0;
    while (co_await next_slot(run, pace, slot)) {
        const int device = static_cast<int>(slot % static_cast<std::uint64_t>(run.opt.devices));
        const auto target =
            signed_target(run.key,
                          {{"Action", "AsyncRRpc"},
                           {"DeviceName", device_name(device)},
                           {"ProductKey", product_key},
                           {"TopicFullName", get_topic(device)},
                           {"MessageContent", kit::base64_encode("call " + std::to_string(slot))}},
                          rng);
        bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
        req.set(bhttp::field::host, "127.0.0.1");
        auto [wec, wn] = co_await bhttp::async_write(stream, req, kit::use_nothrow);
        bhttp::response<bhttp::string_body> res;
        auto [rec, rn] = co_await bhttp::async_read(stream, buffer, res, kit::use_nothrow);
        if (wec || rec) co_return;
        boost::system::error_code jec;
        const auto body = json::parse(res.body(), jec);
        const auto* o = jec ? nullptr : body.if_object();
        if (o && o->contains("Success") && o->at("Success") == true) {
            ++run.accepted;
        } else {
            if (run.first_refusal.empty()) run.first_refusal = res.body();
            ++run.refused;
        }
    }
}

/// The broker's peer of the same traffic: each request published at QoS 1 to the device's topic,
/// its answer read back on `{topic}_reply`.
asio::awaitable<void> broker_async_caller(async_run& run, std::shared_ptr<mqtt_client> c) {
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(
        ex,
        [](async_run& r, std::shared_ptr<mqtt_client> reader) -> asio::awaitable<void> {
            while (auto p = co_await reader->next())
                if (std::holds_alternative<mqtt::puback>(*p)) ++r.accepted;
        }(run, c),
        asio::detached);
    asio::steady_timer pace{ex};
    std::uint64_t slot = 0;
    while (co_await next_slot(run, pace, slot)) {
        const int device = static_cast<int>(slot % static_cast<std::uint64_t>(run.opt.devices));
        const mqtt::packet p = mqtt::publish{false,
                                             mqtt::qos::at_least_once,
                                             false,
                                             get_topic(device),
                                             static_cast<std::uint16_t>(slot % 65535 + 1),
                                             "call " + std::to_string(slot)};
        if (!co_await c->send(p)) co_return;
    }
}

asio::awaitable<void> async_soak(const options& opt) {
    auto ex = co_await asio::this_coro::executor;
    async_run run{opt};
    std::vector<std::shared_ptr<mqtt_client>> devices;
    for (int i = 0; i < opt.devices; ++i) {
        auto c = std::make_shared<mqtt_client>(ex);
        if (!co_await c->login(opt.mqtt_port, i) ||
            !co_await c->subscribe(get_topic(i), mqtt::qos::at_least_once)) {
            std::cerr << "device " << i << " failed to connect\n";
            std::exit(1);
        }
        asio::co_spawn(ex, answering_device(run, c), asio::detached);
        devices.push_back(std::move(c));
    }
    std::shared_ptr<mqtt_client> requester;
    if (opt.target == "broker") {
        requester = std::make_shared<mqtt_client>(ex);
        if (!co_await requester->login(opt.mqtt_port, 999999)) std::exit(1);
    }
    const auto cpu0 = cpu_seconds(opt.pid);
    run.t0 = clock_type::now();
    run.end = run.t0 + std::chrono::seconds{opt.seconds};
    // RSS each minute (or each tenth of a shorter run).
    json::array rss;
    const auto every = std::chrono::seconds{std::clamp(opt.seconds / 10, 1, 60)};
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer tick{ex};
            for (auto at = run.t0; at <= run.end; at += every) {
                tick.expires_at(at);
                co_await tick.async_wait(kit::use_nothrow);
                rss.push_back(rss_kib(opt.pid));
            }
        },
        asio::detached);
    if (opt.target == "broker") {
        co_await broker_async_caller(run, requester);
    } else {
        const auto caller = [&run](int i) { return async_caller(run, i); };
        co_await run_all(opt.concurrency, caller);
    }
    const double wall = std::chrono::duration<double>(clock_type::now() - run.t0).count();
    // The last answers: each accepted call answered (a bounded wait).
    asio::steady_timer settle{ex};
    for (int i = 0; i < 100 && run.answered < run.accepted; ++i) {
        settle.expires_after(std::chrono::milliseconds{100});
        co_await settle.async_wait(kit::use_nothrow);
    }
    json::object o;
    o["mode"] = "async";
    o["target"] = opt.target;
    o["devices"] = opt.devices;
    o["seconds"] = opt.seconds;
    o["calls_per_s"] = static_cast<double>(run.accepted + run.refused) / wall;
    o["accepted"] = run.accepted;
    o["refused"] = run.refused;
    o["answered"] = run.answered;
    if (!run.first_refusal.empty()) o["first_refusal"] = run.first_refusal;
    o["server_cpu_us_per_call"] =
        run.accepted > 0 ? (cpu_seconds(opt.pid) - cpu0) * 1e6 / static_cast<double>(run.accepted)
                         : 0.0;
    o["rss_kib"] = std::move(rss);
    std::cout << json::serialize(o) << std::endl;
    for (auto& d : devices) d->socket.close();
    if (requester) requester->socket.close();
}

}  // namespace

int main(int argc, char** argv) {
    options opt;
    if (argc < 2) {
        std::cerr << "usage: rrpc_bench reqrep|idle|timeout|async|config [--options]\n";
        return 2;
    }
    opt.mode = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--target")
            opt.target = v;
        else if (k == "--mqtt")
            opt.mqtt_port = static_cast<std::uint16_t>(std::stoi(v));
        else if (k == "--http")
            opt.http_port = static_cast<std::uint16_t>(std::stoi(v));
        else if (k == "--pid")
            opt.pid = std::stoi(v);
        else if (k == "--devices")
            opt.devices = std::stoi(v);
        else if (k == "--concurrency")
            opt.concurrency = std::stoi(v);
        else if (k == "--calls")
            opt.calls = std::stoi(v);
        else if (k == "--payload")
            opt.payload = std::stoi(v);
        else if (k == "--timeout-ms")
            opt.timeout_ms = std::stoi(v);
        else if (k == "--rate")
            opt.rate = std::stoi(v);
        else if (k == "--seconds")
            opt.seconds = std::stoi(v);
        else if (k == "--store")
            opt.store = v;
        else if (k == "--threads")
            opt.threads = std::stoi(v);
        else if (k == "--tls")
            opt.tls = v == "1";
        else if (k == "--tls-dir")
            opt.tls_dir = v;
    }
    if (opt.mode == "config") {
        // Every simulated device comes from 127.0.0.1: the per-address limit must allow them all.
        // The timeouts mode keeps 64 calls waiting on one device: the per-device limit must too.
        if (opt.threads >= 0) std::cout << "[server]\nthreads = " << opt.threads << "\n";
        std::cout << "[mqtt]\nlisten = \"127.0.0.1:0\"\nmax_connections_per_address = 1000000\n"
                  << (opt.tls_dir.empty() ? "" : "tls_listen = \"127.0.0.1:0\"\n")
                  << "[http]\nlisten = \"127.0.0.1:0\"\n[rrpc]\nmax_pending_per_device = 100000\n"
                     "[log]\nlevel = \"warn\"\n"
                  << "[[access_keys]]\nid = \"" << access_key_id << "\"\nsecret = \""
                  << access_key_secret << "\"\nqps_rrpc = 0\nqps_async_rrpc = 0\n";
        if (!opt.store.empty()) std::cout << "[store]\npath = \"" << opt.store << "\"\n";
        if (!opt.tls_dir.empty())
            std::cout << "[tls]\ncert_file = \"" << opt.tls_dir << "/server.crt\"\nkey_file = \""
                      << opt.tls_dir << "/server.key\"\n";
        for (int i = 0; i < opt.devices; ++i)
            std::cout << "[[devices]]\nproduct_key = \"" << product_key << "\"\ndevice_name = \""
                      << device_name(i) << "\"\ndevice_secret = \"" << device_secret(i) << "\"\n";
        return 0;
    }
    asio::ssl::context tls_context{asio::ssl::context::tls_client};
    if (opt.tls) client_tls = &tls_context;
    asio::io_context io{1};
    if (opt.mode == "reqrep")
        asio::co_spawn(io, reqrep(opt), asio::detached);
    else if (opt.mode == "idle")
        asio::co_spawn(io, idle(opt), asio::detached);
    else if (opt.mode == "timeout")
        asio::co_spawn(io, timeouts(opt), asio::detached);
    else if (opt.mode == "async")
        asio::co_spawn(io, async_soak(opt), asio::detached);
    io.run();
    return 0;
}
