#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>

namespace rrpcd::server {

/// One log line per record, in UTC with its offset (`2026-12-02T00:49:58.123Z`):
/// `logfmt`: `ts=… level=… logger=… event=… key=value…` (the message is already logfmt, its
/// values quoted with kit::logfmt_value); `json`: the same fields as one JSON object, bare
/// integers as numbers (a message that is not logfmt goes whole into `msg`).
std::unique_ptr<spdlog::formatter> make_log_formatter(const std::string& format);

/// The line for one record (the formatter's work, without spdlog): exposed for the unit tests.
std::string format_log_line(const std::string& format, std::int64_t unix_ms, std::string_view level,
                            std::string_view logger, std::string_view message);

}  // namespace rrpcd::server
