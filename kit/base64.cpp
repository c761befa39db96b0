#include "kit/base64.hpp"

// Beast's base64 is a detail API: it is wrapped here, once, and nowhere else.
#include <boost/beast/core/detail/base64.hpp>

namespace rrpcd::kit {

namespace b64 = boost::beast::detail::base64;

std::string base64_encode(std::string_view bytes) {
    std::string out(b64::encoded_size(bytes.size()), '\0');
    out.resize(b64::encode(out.data(), bytes.data(), bytes.size()));
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    std::string_view data = text;
    if (text.size() % 4 == 0) {  // padded form: at most two '=' at the very end
        for (int i = 0; i < 2 && !data.empty() && data.back() == '='; ++i) data.remove_suffix(1);
    } else if (text.find('=') != std::string_view::npos) {
        return std::nullopt;  // padding present but the length is wrong
    }
    if (data.size() % 4 == 1) return std::nullopt;  // no byte ends after a single sextet
    // Beast's decoded_size assumes padded input; the padding was stripped, so size it here.
    std::string out(data.size() * 3 / 4 + 3, '\0');
    const auto [written, read] = b64::decode(out.data(), data.data(), data.size());
    if (read != data.size()) return std::nullopt;  // a character outside the alphabet
    out.resize(written);
    return out;
}

}  // namespace rrpcd::kit
