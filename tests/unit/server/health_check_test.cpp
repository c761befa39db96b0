#include "server/health_check.hpp"
#include "server/tls.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd;
using namespace rrpcd::server;

namespace {
/// The value, or the test stops with the error.
template <class R>
auto ok(const R& r) {
    if (!r.has_value()) FAIL(r.error());
    return *r;
}
}  // namespace

TEST_CASE("rrpcd health --url: a base URL means its readiness probe, http or https", "[server]") {
    CHECK(ok(health_url("http://10.0.0.5:8080")) == "http://10.0.0.5:8080/readyz");
    CHECK(ok(health_url("http://10.0.0.5:8080/")) == "http://10.0.0.5:8080/readyz");
    CHECK(ok(health_url("https://iot.example.com")) == "https://iot.example.com/readyz");
    CHECK(ok(health_url("http://[::1]:8080/livez")) == "http://[::1]:8080/livez");
    CHECK(health_url("ftp://host/readyz").has_error());
    CHECK(health_url("10.0.0.5:8080").has_error());
    CHECK(health_url("http:///readyz").has_error());
}

TEST_CASE("rrpcd health without --url probes the configured listener, never a fixed port",
          "[server]") {
    config::settings s;
    s.http.listen = config::endpoint{"0.0.0.0", 9090};
    CHECK(ok(probe_target(s)).url == "http://127.0.0.1:9090/readyz");
    CHECK(ok(probe_target(s)).pinned_cert.empty());
    s.http.listen = config::endpoint{"::", 9090};
    CHECK(ok(probe_target(s)).url == "http://[::1]:9090/readyz");
    // TLS only (README's TLS setup): https, trusting exactly the configured certificate.
    s.http.listen.reset();
    s.http.tls_listen = config::endpoint{"0.0.0.0", 8443};
    s.tls.cert_file = "/etc/rrpcd/server.crt";
    const auto tls = probe_target(s);
    REQUIRE(tls.has_value());
    CHECK(tls->url == "https://127.0.0.1:8443/readyz");
    CHECK(tls->pinned_cert == "/etc/rrpcd/server.crt");
    s.http.tls_listen.reset();
    REQUIRE(probe_target(s).has_error());
    CHECK(probe_target(s).error().find("no HTTP listener") != std::string::npos);
}

TEST_CASE("a certificate is valid, expiring within 30 days, or expired", "[server]") {
    using state = certificate_expiry::state;
    constexpr std::int64_t day = 86400, now = 1'800'000'000;
    CHECK(expiry_of(now + 90 * day, now).verdict == state::valid);
    CHECK(expiry_of(now + 30 * day + 1, now).verdict == state::valid);
    const auto soon = expiry_of(now + 10 * day, now);
    CHECK(soon.verdict == state::expiring);
    CHECK(soon.seconds_left == 10 * day);
    const auto gone = expiry_of(now - 2 * day, now);
    CHECK(gone.verdict == state::expired);
    CHECK(gone.seconds_left == -2 * day);
    CHECK(expiry_of(now, now).verdict == state::expired);
}
