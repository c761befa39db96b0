#include "server/metrics.hpp"

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
    CHECK(families == 13);
    CHECK(samples == rrpcd::kit::limit_kinds + 7 + 3 + 4 + 1);
}
