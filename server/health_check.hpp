#pragma once

#include <string>

namespace rrpcd::server {

/// `rrpcd health`: GETs `url` (http://host:port/path, 5 s in all) and prints the answer's
/// body. Returns the exit code: 0 for 200, 1 for any other answer or none.
int check_health(const std::string& url);

}  // namespace rrpcd::server
