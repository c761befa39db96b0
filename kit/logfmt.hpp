#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rrpcd::kit {

/// `text` as a logfmt value: bare when it needs no quotes, else in double quotes with `\"`,
/// `\\`, `\n`, `\r`, `\t` and `\xHH` (other control bytes) escaped; at most `max` bytes of
/// `text` (then `...`). Untrusted text (client ids, topics, reasons) cannot forge a field.
std::string logfmt_value(std::string_view text, std::size_t max = 256);

/// The `key=value` pairs of a logfmt line (values unescaped), or nullopt when it is not one.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_logfmt(std::string_view line);

/// `url` with its password (userinfo after `:`) replaced by `********`; unchanged when it has
/// none or is not a URL.
std::string redact_url(std::string_view url);

}  // namespace rrpcd::kit
