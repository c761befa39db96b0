#pragma once

#include <string_view>

namespace rrpcd::mqtt {

/// A PUBLISH topic name: non-empty, no wildcards [MQTT-3.3.2-2] [MQTT-4.7.3-1].
bool is_valid_topic_name(std::string_view topic) noexcept;

/// A topic filter: non-empty; `#` only alone in the last level, `+` only alone in a level
/// [MQTT-4.7.1-2] [MQTT-4.7.1-3].
bool is_valid_topic_filter(std::string_view filter) noexcept;

/// True when `topic` matches `filter` (both valid). Wildcards at the first level do not match
/// topics starting with `$` [MQTT-4.7.2-1].
bool topic_matches(std::string_view filter, std::string_view topic) noexcept;

}  // namespace rrpcd::mqtt
