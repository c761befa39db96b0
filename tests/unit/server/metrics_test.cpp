#include "server/metrics.hpp"

#include "catalog/login.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::server;

TEST_CASE("metrics render as Prometheus text, every family with HELP and TYPE", "[server]") {
    metrics_snapshot m;
    m.limit_hits[static_cast<std::size_t>(rrpcd::kit::limit::mqtt_packet_size)] = 3;
    m.devices_online = 7;
    m.calls_timeout = 2;
    const auto text = render_metrics(m);
    CHECK(text.find("# TYPE rrpcd_limit_hits_total counter\n") != std::string::npos);
    CHECK(text.find("rrpcd_limit_hits_total{limit=\"mqtt_packet_size\"} 3\n") != std::string::npos);
    CHECK(text.find("# HELP rrpcd_devices_online Devices with a live session.\n"
                    "# TYPE rrpcd_devices_online gauge\nrrpcd_devices_online 7\n") !=
          std::string::npos);
    CHECK(text.find("rrpcd_calls_total{code=\"TIMEOUT\"} 2\n") != std::string::npos);
    // Every sample line belongs to a family announced before it.
    std::size_t families = 0, samples = 0;
    for (std::size_t at = 0; at < text.size();) {
        const auto end = text.find('\n', at);
        REQUIRE(end != std::string::npos);  // ends with a newline
        const auto line = text.substr(at, end - at);
        if (line.starts_with("# TYPE "))
            ++families;
        else if (!line.starts_with("# HELP "))
            ++samples;
        at = end + 1;
    }
    // build_info, the limits, 7 gauges, 3 counters, calls_total, started/ended by kind, the API's
    // 4 families (login refusals with each reason from zero, auth failures and API requests
    // empty here) and the Alink requests' (empty), 4 MQTT traffic counters, 4 webhook counters,
    // 2 SSE, async answer duplicates, console sessions, handler failures, held messages and
    // bytes, the store's queue and failures, the planes' devices online and the router's hops,
    // 6 process_*.
    CHECK(families == 45);
    CHECK(samples == 1 + rrpcd::kit::limit_kinds + 7 + 3 + 5 + 4 + 4 * 5 +
                         rrpcd::catalog::login_refusal_reasons.size() + 4 + 4 + 2 + 1 + 1 + 1 + 2 +
                         1 + 1 + 1 + 6);  // the router's hops (no plane in an empty snapshot)
    CHECK(text.find("rrpcd_build_info{version=\"" RRPCD_VERSION "\"} 1\n") != std::string::npos);
}

TEST_CASE("latency histograms are cumulative with +Inf, _sum and _count, labels escaped",
          "[server]") {
    metrics_snapshot m;
    auto& h = m.api.latency["RRpc"];
    h.observe(0.0002);  // first bucket
    h.observe(0.003);   // le 0.005
    h.observe(60);      // past the last bound
    m.api.calls[{"RRpc", "SUCCESS"}] = 2;
    m.api.auth_failures["Sig\"nature"] = 1;
    m.store_write_seconds.emplace().observe(0.002);
    process_figures p;
    p.open_fds = 9;
    const auto text = render_metrics(m, p);
    CHECK(
        text.find("rrpcd_api_request_duration_seconds_bucket{action=\"RRpc\",le=\"0.0005\"} 1\n") !=
        std::string::npos);
    CHECK(
        text.find("rrpcd_api_request_duration_seconds_bucket{action=\"RRpc\",le=\"0.005\"} 2\n") !=
        std::string::npos);
    CHECK(text.find("rrpcd_api_request_duration_seconds_bucket{action=\"RRpc\",le=\"10\"} 2\n") !=
          std::string::npos);
    CHECK(text.find("rrpcd_api_request_duration_seconds_bucket{action=\"RRpc\",le=\"+Inf\"} 3\n") !=
          std::string::npos);
    CHECK(text.find("rrpcd_api_request_duration_seconds_count{action=\"RRpc\"} 3\n") !=
          std::string::npos);
    CHECK(text.find("rrpcd_api_requests_total{action=\"RRpc\",outcome=\"SUCCESS\"} 2\n") !=
          std::string::npos);
    CHECK(text.find("rrpcd_auth_failures_total{reason=\"Sig\\\"nature\"} 1\n") !=
          std::string::npos);
    CHECK(text.find("rrpcd_store_write_duration_seconds_bucket{le=\"0.0025\"} 1\n") !=
          std::string::npos);
    CHECK(text.find("process_open_fds 9\n") != std::string::npos);
}

TEST_CASE("the process's own figures are read from /proc", "[server]") {
    const auto p = read_process_figures();
    CHECK(p.resident_bytes > 0);
    CHECK(p.open_fds >= 3);  // stdin, stdout, stderr at least
    CHECK(p.max_fds >= p.open_fds);
    CHECK(p.start_time_seconds > 1.5e9);
}
