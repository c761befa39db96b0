#include "catalog/property_values.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace rrpcd::catalog;

namespace {
boost::json::object params(std::string_view text) {
    return boost::json::parse(text).as_object();
}
}  // namespace

TEST_CASE("property values: the latest of each, in both post forms", "[catalog]") {
    property_values values;
    const device_key d{"a1pk", "dev1"};
    CHECK(values.posted(d, params(R"({"a": 1, "b": "on"})"), 100) == 0);
    CHECK(values.posted(d, params(R"({"a": {"value": {"x": [1, 2]}, "time": 90}})"), 200) == 0);
    const auto v = values.of(d);
    REQUIRE(v.size() == 2);
    CHECK(v[0].identifier == "a");
    CHECK(v[0].value == R"({"x":[1,2]})");
    CHECK(v[0].time_ms == 90);
    CHECK(v[1].value == R"("on")");
    CHECK(v[1].time_ms == 100);
    CHECK(values.of({"a1pk", "dev2"}).empty());
    CHECK(values.bytes() == 1 + 11 + 1 + 4);
    values.forget(d);
    CHECK(values.of(d).empty());
    CHECK(values.bytes() == 0);
}

TEST_CASE("property values: past a bound a value is not kept but counted, and what was kept stays",
          "[catalog]") {
    property_values values{{2, 8, 30}};  // 2 per device, 8 bytes a value, 30 in all
    const device_key d{"a1pk", "dev1"}, e{"a1pk", "dev2"};
    CHECK(values.posted(d, params(R"({"a": 1, "b": 2, "c": 3})"), 1) == 1);  // a third property
    CHECK(values.posted(d, params(R"({"a": "123456789"})"), 2) == 1);        // 11 bytes of JSON
    CHECK(values.of(d)[0].value == "1");
    CHECK(values.posted(d, params(R"({"a": "12345"})"), 3) == 0);  // an update in place
    CHECK(values.of(d)[0].value == R"("12345")");
    // 1+7 + 1+1 = 10 kept; another device's 3 × (1+7) = 24 would pass 30.
    CHECK(values.posted(e, params(R"({"x": "12345", "y": "12345"})"), 4) == 0);
    CHECK(values.bytes() == 26);
    const device_key f{"a1pk", "dev3"};
    CHECK(values.posted(f, params(R"({"z": "1234"})"), 5) == 1);  // 1+6 more: 33 in all
    CHECK(values.of(f).empty());
    CHECK(values.of(e)[0].value == R"("12345")");
    CHECK(values.refused() == 3);
}
