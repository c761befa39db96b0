// libFuzzer target: both signature canonicalisations on their own, fed with arbitrary parts.
// The input is split on '\n': method, path, query, Authorization header, then header lines.
#include "http/signature.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in{reinterpret_cast<const char*>(data), size};
    std::vector<std::string_view> parts;
    for (std::size_t start = 0; start <= in.size();) {
        const auto end = std::min(in.find('\n', start), in.size());
        parts.push_back(in.substr(start, end - start));
        start = end + 1;
    }
    while (parts.size() < 4) parts.emplace_back();
    const auto query = rrpcd::http::parse_form(parts[2]);
    if (!query) return 0;
    const auto v1 = rrpcd::http::v1_string_to_sign(parts[0], rrpcd::http::views_of(*query));
    (void)rrpcd::http::v1_signature("secret", v1);
    const auto auth = rrpcd::http::parse_v3_authorization(parts[3]);
    const std::vector<std::string> lines(parts.begin() + 4, parts.end());
    const auto canonical = rrpcd::http::v3_canonical_request(
        parts[0], parts[1], rrpcd::http::views_of(*query), lines,
        auth ? auth->signed_headers_text : "",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    (void)rrpcd::http::v3_signature("secret", canonical);
    (void)rrpcd::http::percent_encode(in);
    return 0;
}
