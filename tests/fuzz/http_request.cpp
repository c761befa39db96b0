// libFuzzer target: raw bytes as an HTTP request through Beast's parser (with rrpcd's limits),
// the parameter decoding of every action, and the authenticator, which canonicalises the request
// for V1 (Signature parameter) or V3 (ACS3-HMAC-SHA256 Authorization header) and checks it.
#include "http/authenticator.hpp"
#include "http/params.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace {

rrpcd::http::authenticator& authenticator() {
    // The key of the captured vectors (tests/data/cloud-signature-vectors.json), so that seeds
    // from them reach the signature comparison and past it.
    static rrpcd::http::authenticator auth{
        {{"LTAI5tVectorKeyId", "VectorSecret+/=&%!*", {}}, {"LTAItestKeyId", "test+Secret/=&", {}}},
        std::chrono::seconds{900},
        4096};
    return auth;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace bhttp = boost::beast::http;
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(1024 * 1024);
    parser.eager(true);
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(data, size), ec);
    if (!ec && !parser.is_done()) parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;
    const auto& req = parser.get();
    const auto decoded = rrpcd::http::decode_request(req.target(), req[bhttp::field::host],
                                                     req[bhttp::field::content_type], req.body());
    if (!decoded) return 0;
    // A fixed "now" inside the vectors' window, so that their Timestamps are fresh.
    const auto now = std::chrono::system_clock::time_point{std::chrono::seconds{1795449084}};
    (void)authenticator().verify(req, decoded->path, decoded->params, now);
    return 0;
}
