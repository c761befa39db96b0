#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>

namespace rrpcd::server {

/// One log line per record, in UTC with its offset (`2026-12-02T00:49:58.123Z`):
/// `logfmt`: `ts=… level=… logger=… event=… key=value…` (the message is already logfmt, its
/// values quoted with kit::logfmt_value); `json`: the same fields as one JSON object, bare
/// numbers (integers, decimals like `duration_ms=1.4`) as numbers, `true`/`false` as booleans
/// (a message that is not logfmt goes whole into `msg`). Levels are spelled as `[log] level`
/// takes them: trace, debug, info, warn, error, critical.
std::unique_ptr<spdlog::formatter> make_log_formatter(const std::string& format);

/// A level's one spelling in log lines (spdlog's, but `warn` for its `warning`).
std::string_view level_name(spdlog::level::level_enum level) noexcept;

/// The line for one record (the formatter's work, without spdlog): exposed for the unit tests.
std::string format_log_line(const std::string& format, std::int64_t unix_ms, std::string_view level,
                            std::string_view logger, std::string_view message);

}  // namespace rrpcd::server
