#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace rrpcd::test {

/// Parses a JSON file of tests/data (vectors captured from the official SDKs).
inline boost::json::value load_data(const std::string& name) {
    std::ifstream in{std::string{RRPCD_TEST_DATA_DIR} + "/" + name};
    if (!in) throw std::runtime_error("missing test data " + name);
    std::ostringstream text;
    text << in.rdbuf();
    return boost::json::parse(text.str());
}

}  // namespace rrpcd::test
