#include "http/signature.hpp"
#include "http/authenticator.hpp"
#include "kit/crypto.hpp"

#include "data_dir.hpp"

#include <boost/url/parse.hpp>
#include "catch_result.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

using namespace rrpcd::http;
namespace bhttp = boost::beast::http;

namespace {

struct captured {
    std::string label;
    authenticator::request req;
    std::string path;
    request_params params;
    boost::json::object expected;
    std::string key_id;
    std::string secret;
};

/// The captured requests of the official SDKs, as Beast messages with their decoded parameters.
std::vector<captured> captured_requests() {
    std::vector<captured> out;
    const auto vectors = rrpcd::test::load_data("cloud-signature-vectors.json");
    for (const auto& v : vectors.as_array()) {
        const auto& r = v.at("request").as_object();
        captured c;
        c.label = v.at("label").as_string();
        c.key_id = v.at("accessKeyId").as_string();
        c.secret = v.at("accessKeySecret").as_string();
        c.expected = v.at("expected").as_object();
        c.req.method_string(std::string{r.at("method").as_string()});
        c.req.target(std::string{r.at("target").as_string()});
        for (const auto& [name, value] : r.at("headers").as_object())
            c.req.insert(name, std::string{value.as_string()});
        c.req.body() = r.at("body").as_string();
        const auto target = boost::urls::parse_origin_form(r.at("target").as_string());
        REQUIRE(target);
        c.path = std::string{target->encoded_path()};
        c.params.query = *parse_form(std::string{target->encoded_query()});
        if (!c.req.body().empty()) c.params.form = *parse_form(c.req.body());
        out.push_back(std::move(c));
    }
    REQUIRE(out.size() >= 9);
    return out;
}

std::chrono::system_clock::time_point signed_at(const captured& c) {
    const auto ts = c.req.count("x-acs-date") ? std::string{c.req["x-acs-date"]}
                                              : std::string{*c.params.get("Timestamp")};
    return *parse_iso8601_utc(ts);
}

}  // namespace

TEST_CASE("percent encoding keeps only unreserved characters", "[http]") {
    CHECK(percent_encode("aZ09-_.~") == "aZ09-_.~");
    CHECK(percent_encode("a b+c*d!'()") == "a%20b%2Bc%2Ad%21%27%28%29");
    CHECK(percent_encode("h\xC3\xA9/=&") == "h%C3%A9%2F%3D%26");
}

TEST_CASE("the darabonba test vectors", "[http]") {
    // V1: GET, {query:test, body:test}, secret "secret".
    const auto sts = v1_string_to_sign("GET", {{"query", "test"}, {"body", "test"}});
    CHECK(sts == "GET&%2F&body%3Dtest%26query%3Dtest");
    CHECK(v1_signature("secret", sts) == "XlUyV4sXjOuX5FnjUz9IF9tm5rU=");
    // V3: GET /, query test=ok&empty=, x-acs-test: http + x-acs-TEST: https.
    const auto canonical = v3_canonical_request(
        "GET", "/", {{"test", "ok"}, {"empty", ""}}, {"x-acs-test:http,https"}, "x-acs-test",
        "55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23");
    CHECK(v3_signature("secret", canonical) ==
          "d16b30a7699ae9e43875b13195b2f81bcc3ed10c14a9b5eb780e51619aa50be1");
}

TEST_CASE("every captured SDK request canonicalises and signs as the SDK did", "[http]") {
    for (const auto& c : captured_requests()) {
        INFO(c.label);
        if (c.req.count(bhttp::field::authorization) &&
            c.req[bhttp::field::authorization].starts_with("ACS3-")) {
            const auto auth = parse_v3_authorization(c.req[bhttp::field::authorization]);
            REQUIRE(auth);
            CHECK(auth->credential == c.key_id);
            std::vector<std::string> lines;
            for (const auto& h : auth->signed_headers)
                lines.push_back(h + ":" + std::string{c.req[h]});
            const auto canonical = v3_canonical_request(
                c.req.method_string(), c.path, views_of(c.params.query), lines,
                auth->signed_headers_text, rrpcd::kit::to_hex(rrpcd::kit::sha256(c.req.body())));
            CHECK(canonical == c.expected.at("canonicalRequest").as_string());
            CHECK(v3_signature(c.secret, canonical) == c.expected.at("signatureHex").as_string());
        } else {
            auto signed_set = c.params.all();
            std::erase_if(signed_set, [](const auto& p) { return p.first == "Signature"; });
            const auto sts = v1_string_to_sign(c.req.method_string(), signed_set);
            CHECK(sts == c.expected.at("stringToSign").as_string());
            CHECK(v1_signature(c.secret, sts) == c.expected.at("signatureBase64").as_string());
        }
    }
}

TEST_CASE("the authenticator accepts every captured request once", "[http]") {
    for (const auto& c : captured_requests()) {
        INFO(c.label);
        authenticator auth{{{c.key_id, c.secret}}, std::chrono::seconds{900}, 1000};
        const auto now = signed_at(c) + std::chrono::seconds{30};
        const auto who = auth.verify(c.req, c.path, c.params, now);
        REQUIRE(who);
        CHECK(who->access_key_id == c.key_id);
        const auto again = auth.verify(c.req, c.path, c.params, now);
        REQUIRE_FALSE(again);
        CHECK(again.error().code == "SignatureNonceUsed");
    }
}

TEST_CASE("the authenticator refuses what the cloud refuses", "[http]") {
    for (const auto& c : captured_requests()) {
        INFO(c.label);
        const auto now = signed_at(c);
        SECTION("a stale timestamp") {
            authenticator auth{{{c.key_id, c.secret}}, std::chrono::seconds{900}, 1000};
            const auto r = auth.verify(c.req, c.path, c.params, now + std::chrono::minutes{16});
            REQUIRE_FALSE(r);
            CHECK(r.error().code == "InvalidTimeStamp.Expired");
            CHECK(r.error().status == 400);
        }
        SECTION("a wrong secret") {
            authenticator auth{{{c.key_id, c.secret + "x"}}, std::chrono::seconds{900}, 1000};
            const auto r = auth.verify(c.req, c.path, c.params, now);
            REQUIRE_FALSE(r);
            CHECK(r.error().code == "SignatureDoesNotMatch");
            CHECK(r.error().status == 400);
        }
        SECTION("an unknown key") {
            authenticator auth{{{"someone-else", c.secret}}, std::chrono::seconds{900}, 1000};
            const auto r = auth.verify(c.req, c.path, c.params, now);
            REQUIRE_FALSE(r);
            CHECK(r.error().code == "InvalidAccessKeyId.NotFound");
            CHECK(r.error().status == 404);
        }
        SECTION("a changed parameter") {
            authenticator auth{{{c.key_id, c.secret}}, std::chrono::seconds{900}, 1000};
            auto params = c.params;
            auto& list = params.query.empty() ? params.form : params.query;
            for (auto& [k, v] : list)
                if (k == "ProductKey") v = "a1OTHER";
            const auto r = auth.verify(c.req, c.path, params, now);
            REQUIRE_FALSE(r);
            CHECK(r.error().code == "SignatureDoesNotMatch");
        }
    }
}

TEST_CASE("V3 requests must sign the headers that carry action, version, date and nonce",
          "[http]") {
    for (const auto& c : captured_requests()) {
        if (!c.req.count(bhttp::field::authorization)) continue;
        auto req = c.req;
        std::string header{req[bhttp::field::authorization]};
        const auto pos = header.find("x-acs-signature-nonce;");
        REQUIRE(pos != std::string::npos);
        header.erase(pos, std::string_view{"x-acs-signature-nonce;"}.size());
        req.set(bhttp::field::authorization, header);
        authenticator auth{{{c.key_id, c.secret}}, std::chrono::seconds{900}, 1000};
        const auto r = auth.verify(req, c.path, c.params, signed_at(c));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == "IncompleteSignature");
    }
}

TEST_CASE("V1 requests name what is missing", "[http]") {
    authenticator auth{{{"k", "s"}}, std::chrono::seconds{900}, 1000};
    authenticator::request req{bhttp::verb::get, "/?Action=RRpc", 11};
    request_params params;
    params.query = {{"Action", "RRpc"}};
    const auto r = auth.verify(req, "/", params, std::chrono::system_clock::now());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == "MissingParameter");
    CHECK(r.error().message.find("Signature") != std::string::npos);
}

TEST_CASE("ISO 8601 timestamps", "[http]") {
    const auto t = parse_iso8601_utc("2026-11-23T15:51:24Z");
    REQUIRE(t);
    CHECK(std::chrono::system_clock::to_time_t(*t) == 1795449084);
    CHECK_FALSE(parse_iso8601_utc("2026-11-23 15:51:24Z"));
    CHECK_FALSE(parse_iso8601_utc("2026-13-23T15:51:24Z"));
    CHECK_FALSE(parse_iso8601_utc("2026-11-23T15:51:24"));
    CHECK_FALSE(parse_iso8601_utc("garbage"));
}

TEST_CASE("a request sent on four connections at once is accepted once, across a key reload",
          "[http]") {
    // The authenticator is a node service: every plane's HTTP sessions verify through it at
    // once (ThreadSanitizer reads the same run).
    for (const auto& c : captured_requests()) {
        INFO(c.label);
        authenticator auth{{{c.key_id, c.secret}}, std::chrono::seconds{900}, 1000};
        const auto now = signed_at(c) + std::chrono::seconds{30};
        std::atomic<int> accepted{0}, replayed{0};
        std::vector<std::thread> connections;
        for (int t = 0; t < 4; ++t)
            connections.emplace_back([&] {
                for (int i = 0; i < 50; ++i) {
                    const auto who = auth.verify(c.req, c.path, c.params, now);
                    if (who)
                        ++accepted;
                    else if (who.error().code == "SignatureNonceUsed")
                        ++replayed;
                }
            });
        for (int i = 0; i < 20; ++i) auth.set_keys({{c.key_id, c.secret}});  // a reload
        for (auto& t : connections) t.join();
        CHECK(accepted == 1);
        CHECK(replayed == 4 * 50 - 1);
        CHECK(auth.nonces().size == 1);
    }
}
