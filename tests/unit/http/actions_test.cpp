#include "http/actions.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace rrpcd::http;

TEST_CASE("the action table is sorted, and each action is found by its name only", "[http]") {
    const auto all = actions();
    REQUIRE(all.size() == 23);
    CHECK(std::is_sorted(all.begin(), all.end(),
                         [](const action& a, const action& b) { return a.name < b.name; }));
    for (const auto& a : all) {
        CHECK(find_action(a.name) == &a);
        CHECK(a.handler != nullptr);
    }
    CHECK(find_action("rrpc") == nullptr);  // names are case-sensitive, as the cloud's
    CHECK(find_action("") == nullptr);
    CHECK(find_action("RRpcX") == nullptr);
    // The cloud's QPS classes.
    CHECK(find_action("RRpc")->qps == qps_class::rrpc);
    CHECK(find_action("AsyncRRpc")->qps == qps_class::async_rrpc);
    CHECK(find_action("InvokeThingService")->qps == qps_class::invoke_thing_service);
    CHECK(find_action("QueryDevice")->qps == qps_class::none);
}
