#include "server/log_format.hpp"

#include "kit/logfmt.hpp"
#include "kit/parse_whole.hpp"

#include <spdlog/details/log_msg.h>
#include <boost/json.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>

namespace rrpcd::server {

namespace {

std::string utc(std::int64_t ms) {
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
    return std::string{buf, n} + frac;
}

class line_formatter final : public spdlog::formatter {
public:
    explicit line_formatter(std::string format) : format_(std::move(format)) {}

    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch())
                .count();
        const auto line = format_log_line(format_, ms, level_name(msg.level),
                                          {msg.logger_name.data(), msg.logger_name.size()},
                                          {msg.payload.data(), msg.payload.size()});
        dest.append(line.data(), line.data() + line.size());
    }

    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<line_formatter>(format_);
    }

private:
    std::string format_;
};

/// A bare decimal (`1.4`, `-0.25`, `12`): digits with at most one point between digits, no
/// leading zero but a lone one before the point. Ids like `007` stay text.
bool is_plain_number(std::string_view v) noexcept {
    if (v.starts_with('-')) v.remove_prefix(1);
    const auto point = v.find('.');
    const auto whole = v.substr(0, point);
    if (whole.empty() || (whole.size() > 1 && whole[0] == '0')) return false;
    const auto digits = [](std::string_view d) {
        return !d.empty() && d.find_first_not_of("0123456789") == std::string_view::npos;
    };
    return digits(whole) && (point == std::string_view::npos || digits(v.substr(point + 1)));
}

}  // namespace

std::string_view level_name(spdlog::level::level_enum level) noexcept {
    if (level == spdlog::level::warn) return "warn";
    const auto name = spdlog::level::to_string_view(level);
    return {name.data(), name.size()};
}

std::string format_log_line(const std::string& format, std::int64_t unix_ms, std::string_view level,
                            std::string_view logger, std::string_view message) {
    if (format != "json")
        return "ts=" + utc(unix_ms) + " level=" + std::string{level} +
               " logger=" + kit::logfmt_value(logger) + " " + std::string{message} + "\n";
    boost::json::object o;
    o["ts"] = utc(unix_ms);
    o["level"] = level;
    o["logger"] = logger;
    if (const auto fields = kit::parse_logfmt(message)) {
        for (const auto& [k, v] : *fields) {
            if (const auto n = kit::parse_whole<std::int64_t>(v); n && is_plain_number(v))
                o[k] = *n;
            else if (is_plain_number(v) && v.find('.') != std::string_view::npos)
                o[k] = std::strtod(std::string{v}.c_str(), nullptr);
            else if (v == "true" || v == "false")
                o[k] = v == "true";
            else
                o[k] = v;
        }
    } else {
        o["msg"] = message;
    }
    return boost::json::serialize(o) + "\n";
}

std::unique_ptr<spdlog::formatter> make_log_formatter(const std::string& format) {
    return std::make_unique<line_formatter>(format);
}

}  // namespace rrpcd::server
