#include "server/probes.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::server;

TEST_CASE("liveness answers while the process serves; readiness needs every check", "[server]") {
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

TEST_CASE("the scrape token is a Bearer credential; an empty token never matches", "[server]") {
    CHECK(is_scrape_token("Bearer t0k", "t0k"));
    CHECK_FALSE(is_scrape_token("Bearer t0k", "t0K"));
    CHECK_FALSE(is_scrape_token("Bearer t0", "t0k"));
    CHECK_FALSE(is_scrape_token("Basic t0k", "t0k"));
    CHECK_FALSE(is_scrape_token("Bearer ", ""));
    CHECK_FALSE(is_scrape_token("", ""));
}
