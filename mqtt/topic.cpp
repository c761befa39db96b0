#include "mqtt/topic.hpp"

#include <cstddef>

namespace rrpcd::mqtt {
namespace {

/// Splits off the next level of `s` (levels are separated by '/'); `rest` is empty and `more`
/// false after the last level.
struct level_cursor {
    std::string_view s;
    bool more = true;

    std::string_view next() noexcept {
        const auto slash = s.find('/');
        if (slash == std::string_view::npos) {
            more = false;
            return s;
        }
        const auto level = s.substr(0, slash);
        s.remove_prefix(slash + 1);
        return level;
    }
};

}  // namespace

bool is_valid_topic_name(std::string_view topic) noexcept {
    return !topic.empty() && topic.size() <= 65535 &&
           topic.find_first_of("+#") == std::string_view::npos;
}

bool is_valid_topic_filter(std::string_view filter) noexcept {
    if (filter.empty() || filter.size() > 65535) return false;
    level_cursor levels{filter};
    while (levels.more) {
        const auto level = levels.next();
        if (level.find_first_of("+#") == std::string_view::npos) continue;
        if (level.size() != 1) return false;
        if (level == "#" && levels.more) return false;
    }
    return true;
}

bool topic_matches(std::string_view filter, std::string_view topic) noexcept {
    if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
        (filter.front() == '+' || filter.front() == '#'))
        return false;
    level_cursor f{filter};
    level_cursor t{topic};
    while (f.more) {
        const auto fl = f.next();
        if (fl == "#") return true;  // also matches the parent level [MQTT-4.7.1-2]
        if (!t.more) return false;
        const auto tl = t.next();
        if (fl != "+" && fl != tl) return false;
    }
    return !t.more;
}

}  // namespace rrpcd::mqtt
