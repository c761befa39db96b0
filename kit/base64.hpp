#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rrpcd::kit {

/// Standard base64 (RFC 4648 section 4, with padding).
std::string base64_encode(std::string_view bytes);

/// Strict decode: the standard alphabet, padding optional but only at the end, nothing else
/// (no whitespace, no URL-safe alphabet). nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace rrpcd::kit
