#pragma once

#include "config/settings.hpp"
#include "http/api.hpp"

#include <boost/system/result.hpp>

#include <string>

namespace rrpcd::server {

/// Parses every product's thing model; the error names the product and the TSL element.
boost::system::result<catalog::thing_models, std::string> load_thing_models(
    const config::settings& settings);

}  // namespace rrpcd::server
