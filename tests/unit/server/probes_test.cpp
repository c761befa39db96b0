#include "server/probes.hpp"
#include "http/authenticator.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::server;

TEST_CASE("liveness answers while the process serves, readiness needs every check", "[server]") {
    const std::vector<readiness_check> ok{{"listeners", {}}, {"store", {}}};
    CHECK(answer_probe("/livez", ok)->status == 200);
    CHECK(answer_probe("/healthz", ok)->body == "ok\n");
    CHECK(answer_probe("/readyz", ok)->status == 200);
    CHECK(answer_probe("/readyz?verbose", ok)->body == "[+]listeners ok\n[+]store ok\nok\n");
    const std::vector<readiness_check> failing{{"listeners", {}},
                                               {"store", "its last write failed"}};
    CHECK(answer_probe("/readyz", failing)->status == 503);
    CHECK(answer_probe("/readyz", failing)->body == "not ready\n");  // reasons only when asked
    CHECK(answer_probe("/readyz?verbose=1", failing)->body ==
          "[+]listeners ok\n[-]store failed: its last write failed\nnot ready\n");
    CHECK(answer_probe("/livez", failing)->status == 200);
    CHECK_FALSE(answer_probe("/", ok));
    CHECK_FALSE(answer_probe("/readyzz", ok));
    CHECK_FALSE(answer_probe("/v1/metrics", ok));
}

TEST_CASE("the scrape token is a Bearer credential, an empty token never matches", "[server]") {
    CHECK(rrpcd::http::is_scrape_token("Bearer t0k", "t0k"));
    CHECK_FALSE(rrpcd::http::is_scrape_token("Bearer t0k", "t0K"));
    CHECK_FALSE(rrpcd::http::is_scrape_token("Bearer t0", "t0k"));
    CHECK_FALSE(rrpcd::http::is_scrape_token("Basic t0k", "t0k"));
    CHECK_FALSE(rrpcd::http::is_scrape_token("Bearer ", ""));
    CHECK_FALSE(rrpcd::http::is_scrape_token("", ""));
}

#include "server/log_format.hpp"

TEST_CASE("log lines: logfmt with UTC and its offset, or one JSON object", "[server]") {
    const auto logfmt =
        format_log_line("logfmt", 1764636598123, "info", "http", "event=x n=1 why=\"a b\"");
    CHECK(logfmt == "ts=2025-12-02T00:49:58.123Z level=info logger=http event=x n=1 why=\"a b\"\n");
    const auto json = format_log_line(
        "json", 1764636598123, "warn", "mqtt",
        "event=x n=12 z=007 ok=true why=\"a \\\"b\\\"\" duration_ms=1.5 lag=-0.25 v=1.2.3 t=01.5");
    CHECK(json == R"({"ts":"2025-12-02T00:49:58.123Z","level":"warn","logger":"mqtt","event":"x",)"
                  R"("n":12,"z":"007","ok":true,"why":"a \"b\"","duration_ms":1.5E0,"lag":-2.5E-1,)"
                  R"("v":"1.2.3","t":"01.5"})"
                  "\n");
    // One spelling per level, as [log] level takes them.
    CHECK(level_name(spdlog::level::warn) == "warn");
    CHECK(level_name(spdlog::level::err) == "error");
    CHECK(level_name(spdlog::level::info) == "info");
    CHECK(
        format_log_line("json", 0, "info", "server", "no fields here") ==
        R"({"ts":"1970-01-01T00:00:00.000Z","level":"info","logger":"server","msg":"no fields here"})"
        "\n");
}
