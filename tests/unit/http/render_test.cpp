#include "http/render.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd::http;

TEST_CASE("bodies render as the cloud's JSON and XML", "[http]") {
    boost::json::object body;
    body["RrpcCode"] = "SUCCESS";
    body["PayloadBase64Byte"] = "d29ybGQgaGVsbG8=";
    body["MessageId"] = 889455942124347392ULL;
    body["RequestId"] = "41C4265E-F05D-4E2E-AB09-E031F501AF7F";
    body["Success"] = true;
    CHECK(
        render_body(body, format::json, "RRpcResponse") ==
        R"({"RrpcCode":"SUCCESS","PayloadBase64Byte":"d29ybGQgaGVsbG8=","MessageId":889455942124347392,)"
        R"("RequestId":"41C4265E-F05D-4E2E-AB09-E031F501AF7F","Success":true})");
    CHECK(render_body(body, format::xml, "RRpcResponse") ==
          "<?xml version='1.0' encoding='UTF-8'?><RRpcResponse><RrpcCode>SUCCESS</RrpcCode>"
          "<PayloadBase64Byte>d29ybGQgaGVsbG8=</PayloadBase64Byte><MessageId>889455942124347392</"
          "MessageId>"
          "<RequestId>41C4265E-F05D-4E2E-AB09-E031F501AF7F</RequestId><Success>true</Success></"
          "RRpcResponse>");
}

TEST_CASE("XML escapes text", "[http]") {
    boost::json::object body;
    body["Message"] = "<a href=\"x\">&'</a>";
    CHECK(render_body(body, format::xml, "Error") ==
          "<?xml version='1.0' encoding='UTF-8'?><Error><Message>&lt;a "
          "href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;</Message></Error>");
}

TEST_CASE("error bodies: business errors for the SDK, gateway errors for both to throw", "[http]") {
    const auto business_body =
        error_body(business("iot.device.NotExistedDevice", "gone"), "RID", "host");
    CHECK(business_body.at("Success") == false);
    CHECK(business_body.at("Code") == "iot.device.NotExistedDevice");
    CHECK(business_body.at("ErrorMessage") == "gone");
    CHECK(business_body.at("Message") == "gone");
    CHECK_FALSE(business_body.contains("HostId"));
    const auto gateway_body = error_body(gateway::signature_mismatch(), "RID", "127.0.0.1:8080");
    CHECK(gateway_body.at("HostId") == "127.0.0.1:8080");
    CHECK(gateway_body.at("Code") == "SignatureDoesNotMatch");
    CHECK(gateway_body.contains("Recommend"));
    CHECK_FALSE(gateway_body.contains("Success"));
}

TEST_CASE("request ids look like the cloud's", "[http]") {
    const auto a = new_request_id();
    CHECK(a.size() == 36);
    CHECK(a.find_first_not_of("0123456789ABCDEF-") == std::string::npos);
    CHECK(new_request_id() != a);
}
