#include "catalog/thing_model.hpp"

#include "catch_result.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

using namespace rrpcd::catalog;

namespace {

// The platform doc's worked example (SetWeight), plus one parameter of every other type.
constexpr std::string_view tsl = R"({
  "schema": "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json",
  "profile": {"productKey": "a1PK"},
  "properties": [], "events": [],
  "services": [
    {"identifier": "SetWeight", "callType": "async", "inputData": [
      {"identifier": "NewWeight", "name": "w", "dataType": {"type": "double", "specs": {"min": "0", "max": "200", "step": "1", "unit": "kg"}}}]},
    {"identifier": "Everything", "callType": "sync", "inputData": [
      {"identifier": "i", "dataType": {"type": "int", "specs": {"min": "-10", "max": "10", "step": "2"}}},
      {"identifier": "f", "dataType": {"type": "float", "specs": {"min": 0.5, "max": 1.5}}},
      {"identifier": "t", "dataType": {"type": "text", "specs": {"length": "3"}}},
      {"identifier": "b", "dataType": {"type": "bool", "specs": {"0": "off", "1": "on"}}},
      {"identifier": "e", "dataType": {"type": "enum", "specs": {"1": "a", "2": "b", "5": "c"}}},
      {"identifier": "d", "dataType": {"type": "date", "specs": {}}},
      {"identifier": "s", "dataType": {"type": "struct", "specs": [
        {"identifier": "x", "dataType": {"type": "int", "specs": {"max": "5"}}}]}},
      {"identifier": "a", "dataType": {"type": "array", "specs": {"size": "2", "item": {"type": "text", "specs": {"length": "1"}}}}}]}
  ]
})";

thing_model model() {
    thing_model m;
    REQUIRE(add_tsl(tsl, m).has_value());
    return m;
}

std::optional<std::string> check(std::string_view service, std::string_view args) {
    static const auto m = model();
    const auto* s = m.find(service);
    REQUIRE(s);
    return validate_args(*s, boost::json::parse(args).as_object());
}

}  // namespace

TEST_CASE("a TSL document loads with call types", "[rrpc]") {
    const auto m = model();
    REQUIRE(m.find("SetWeight"));
    CHECK_FALSE(m.find("SetWeight")->sync);
    CHECK(m.find("Everything")->sync);
    CHECK(m.find("Everything")->input.size() == 8);
    CHECK_FALSE(m.find("Nope"));
}

TEST_CASE("a non-default module prefixes its identifiers", "[rrpc]") {
    thing_model m;
    REQUIRE(
        add_tsl(R"({"functionBlockId":"fb","services":[{"identifier":"Go","callType":"sync"}]})", m)
            .has_value());
    CHECK(m.find("fb:Go"));
    CHECK_FALSE(m.find("Go"));
}

TEST_CASE("TSL errors name the element", "[rrpc]") {
    const auto error_of = [](std::string_view text) {
        thing_model m;
        const auto r = add_tsl(text, m);
        REQUIRE_FALSE(r.has_value());
        return r.error();
    };
    CHECK(error_of("{").starts_with("not JSON at line 1, column 2: "));
    // Where a console export broke: its line and column (the stray "}").
    CHECK(error_of("{\n  \"services\": [\n    {\"identifier\": \"x\",}\n  ]\n}")
              .starts_with("not JSON at line 3, column 24: "));
    CHECK(error_of(R"({"services":[{"callType":"sync"}]})") == "services[0].identifier: missing");
    CHECK(error_of(R"({"services":[{"identifier":"x","callType":"later"}]})") ==
          "services[0].callType: expected \"sync\" or \"async\"");
    CHECK(
        error_of(
            R"({"services":[{"identifier":"x","inputData":[{"identifier":"p","dataType":{"type":"complex"}}]}]})") ==
        "services[0].inputData[0].dataType.type: unknown type \"complex\"");
    CHECK(
        error_of(
            R"({"services":[{"identifier":"x","inputData":[{"identifier":"p","dataType":{"type":"int","specs":{"max":"ten"}}}]}]})") ==
        "services[0].inputData[0].dataType.specs.max: expected a number");
    CHECK(error_of(R"({"services":[{"identifier":"x"},{"identifier":"x"}]})") ==
          "services[1].identifier: \"x\" defined twice");
    // Found by fuzz_tsl_args: a count past any size_t was cast (undefined behaviour).
    CHECK(
        error_of(
            R"({"services":[{"identifier":"x","inputData":[{"identifier":"p","dataType":{"type":"array","specs":{"size":"2.5e40","item":{"type":"int"}}}}]}]})") ==
        "services[0].inputData[0].dataType.specs.size: expected a whole number from 0 to 1000000");
    CHECK(
        error_of(
            R"({"services":[{"identifier":"x","inputData":[{"identifier":"p","dataType":{"type":"text","specs":{"length":-1}}}]}]})") ==
        "services[0].inputData[0].dataType.specs.length: expected a whole number from 0 to "
        "1000000");
}

TEST_CASE("Args follow the service's inputData", "[rrpc]") {
    CHECK_FALSE(check("SetWeight", R"({"NewWeight":100.8})"));  // the doc's example
    CHECK(check("SetWeight", R"({"NewWeight":100})") ==
          "Args.NewWeight: expected a number with a decimal point, like 10.0");
    CHECK(check("SetWeight", R"({"NewWeight":200.5})") == "Args.NewWeight: must be at most 200");
    CHECK(check("SetWeight", R"({"NewWeight":-0.5})") == "Args.NewWeight: must be at least 0");
    CHECK(check("SetWeight", R"({"Weight":1.0})") ==
          "Args.Weight: not a parameter of this service");
    CHECK_FALSE(check("SetWeight", "{}"));

    CHECK_FALSE(check(
        "Everything",
        R"({"i":-4,"f":1.0,"t":"h\u00e9!","b":1,"e":5,"d":"1536228947682","s":{"x":5},"a":["x","y"]})"));
    CHECK(check("Everything", R"({"i":3})") == "Args.i: must be a multiple of 2 from -10");
    CHECK(check("Everything", R"({"i":1.0})") == "Args.i: expected an integer");
    CHECK(check("Everything", R"({"i":12})") == "Args.i: must be at most 10");
    CHECK(check("Everything", R"({"f":0.25})") == "Args.f: must be at least 0.5");
    CHECK(check("Everything", R"({"t":"long"})") == "Args.t: longer than 3 characters");
    CHECK(check("Everything", R"({"t":1})") == "Args.t: expected a string");
    CHECK(check("Everything", R"({"b":2})") == "Args.b: expected one of 0, 1");
    CHECK(check("Everything", R"({"e":3})") == "Args.e: expected one of 1, 2, 5");
    CHECK(check("Everything", R"({"d":"soon"})") ==
          "Args.d: expected a UTC time in milliseconds, as a string of digits");
    CHECK(check("Everything", R"({"s":{"x":6}})") == "Args.s.x: must be at most 5");
    CHECK(check("Everything", R"({"s":{"y":1}})") == "Args.s.y: not a parameter of this service");
    CHECK(check("Everything", R"({"s":[]})") == "Args.s: expected an object");
    CHECK(check("Everything", R"({"a":["x","y","z"]})") == "Args.a: more than 2 elements");
    CHECK(check("Everything", R"({"a":["x","yy"]})") == "Args.a[1]: longer than 1 characters");
}

TEST_CASE("the Link SDKs' own example thing models load (console exports)", "[catalog]") {
    const auto load = [](const char* name) {
        std::ifstream in{std::string{RRPCD_TEST_DATA_DIR} + "/link_sdk/" + name};
        REQUIRE(in);
        const std::string text{std::istreambuf_iterator<char>{in}, {}};
        thing_model model;
        const auto loaded = add_tsl(text, model);
        INFO((loaded ? std::string{} : loaded.error()));
        REQUIRE(loaded);
        return model;
    };
    // iotkit-embedded src/dev_model/examples/model_for_examples.json
    const auto c = load("c_model_for_examples.json");
    REQUIRE(c.find("get") != nullptr);
    CHECK(c.find("get")->input.empty());
    CHECK(c.find("get")->input_names.size() == 2);  // "inputData": ["…", "…"]
    REQUIRE(c.find("Operation_Service") != nullptr);
    CHECK(c.find("Operation_Service")->sync);
    CHECK(c.find("Operation_Service")->input.size() == 2);
    // alibabacloud-linkkit-python-sdk examples/tsl_demo/tsl.json
    const auto py = load("python_tsl_demo.json");
    CHECK(py.services.size() == 5);
    REQUIRE(py.find("test1") != nullptr);
    CHECK(py.find("test1")->sync);
    CHECK(py.find("get")->input_names.size() == 1);
}

TEST_CASE("identifier strings are allowed in a service's inputData, not in a struct's specs",
          "[catalog]") {
    thing_model model;
    CHECK(add_tsl(R"({"services":[{"identifier":"get","inputData":["A","B"]}]})", model));
    CHECK(add_tsl(R"({"services":[{"identifier":"x","inputData":[""]}]})", model).error() ==
          "services[0].inputData[0]: an empty identifier");
    CHECK(add_tsl(R"({"services":[{"identifier":"y","inputData":[{"identifier":"s","dataType":
               {"type":"struct","specs":["A"]}}]}]})",
                  model)
              .error() == "services[0].inputData[0].dataType.specs: members must be objects");
}

TEST_CASE("GetThingModelTsl Simple keeps identifiers and data types only", "[catalog]") {
    const auto m = model();
    REQUIRE(m.documents.size() == 1);
    CHECK(find_document(m, "") == &m.documents[0]);
    CHECK(find_document(m, "fb") == nullptr);
    CHECK(m.documents[0].text == tsl);  // as it was given
    const auto simple = boost::json::parse(simple_tsl(tsl)).as_object();
    CHECK(simple.at("profile").at("productKey") == "a1PK");
    const auto& weight = simple.at("services").at(0).as_object();
    CHECK(weight.size() == 2);  // identifier, inputData: no callType, name or desc
    CHECK(weight.at("identifier") == "SetWeight");
    const auto& input = weight.at("inputData").at(0).as_object();
    CHECK(input.size() == 2);  // identifier, dataType: "name" is gone
    CHECK(input.at("dataType").at("specs").at("max") == "200");
    CHECK(simple.at("properties").as_array().empty());
    // A console export's `get` keeps its identifier strings.
    CHECK(simple_tsl(R"({"services":[{"identifier":"get","inputData":["A"],"desc":"d"}]})") ==
          R"({"properties":[],"events":[],"services":[{"identifier":"get","inputData":["A"]}]})");
}

TEST_CASE("QueryThingModel's ThingModelJson: sorted keys, modules listed", "[catalog]") {
    thing_model m;
    REQUIRE(add_tsl(R"({"properties":[{"identifier":"P"}],"services":[{"identifier":"S"}]})", m));
    REQUIRE(add_tsl(R"({"functionBlockId":"fb","functionBlockName":"Battery",
                        "events":[{"identifier":"E"}]})",
                    m));
    CHECK(m.documents.at(1).block == "fb");
    CHECK(thing_model_json(&m, "a1PK", "") ==
          R"({"_ppk":{},"events":[],"functionBlocks":[{"functionBlockId":"fb",)"
          R"("functionBlockName":"Battery","productKey":"a1PK"}],"productKey":"a1PK",)"
          R"("properties":[{"identifier":"P"}],"services":[{"identifier":"S"}]})");
    CHECK(thing_model_json(&m, "a1PK", "fb") ==
          R"({"events":[{"identifier":"E"}],"functionBlockId":"fb","productKey":"a1PK",)"
          R"("properties":[],"services":[]})");
    // A product without a model (verification-free) has an empty one.
    CHECK(thing_model_json(nullptr, "a1PK", "") ==
          R"({"_ppk":{},"events":[],"functionBlocks":[],"productKey":"a1PK","properties":[],)"
          R"("services":[]})");
}
