// The fleet service's seeding from the config file (written before it runs beside several
// device planes): idempotent, the file wins for what it names, API-registered devices stay.
#include "fleet/fleet.hpp"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace rrpcd;

namespace {

/// Counts what the fleet tells the store.
struct counting_journal final : store::memory_journal {
    std::vector<std::string> saved, deleted;
    std::size_t products = 0;
    void device_saved(const catalog::device_record& d, urgency) override {
        saved.push_back(d.key.device_name);
    }
    void device_deleted(const catalog::device_key& d) override { deleted.push_back(d.device_name); }
    void product_saved(const catalog::product_record&) override { ++products; }
};

struct fixture {
    catalog::device_directory devices;
    counting_journal journal;
    std::vector<std::string> closed;
    fleet::service fleet{
        devices, journal,
        [this](const catalog::device_key& d, bool forget) {
            closed.push_back(d.device_name + (forget ? " forget" : ""));
        },
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_st>())};
    catalog::thing_models models;
    config::settings settings;

    fixture() {
        settings.products = {{"a1pk", {}}};
        settings.devices = {{"a1pk", "dev1", "s1"}, {"a1pk", "dev2", "s2"}};
        settings.access_keys = {{"LTAIkey", "secret", {}}};
    }
};

}  // namespace

TEST_CASE("seeding from the file is idempotent: a second seed writes nothing", "[fleet]") {
    fixture f;
    const auto keys = f.fleet.seed(f.settings, nullptr, f.models);
    REQUIRE(keys.has_value());
    REQUIRE(keys->size() == 1);
    CHECK(keys->front().id == "LTAIkey");
    CHECK(f.journal.saved == std::vector<std::string>{"dev1", "dev2"});
    CHECK(f.journal.products == 1);
    REQUIRE(f.devices.find({"a1pk", "dev1"}) != nullptr);
    CHECK(f.devices.find({"a1pk", "dev1"})->from_config);
    CHECK(f.fleet.seed(f.settings, nullptr, f.models).has_value());
    CHECK(f.journal.saved.size() == 2);
    CHECK(f.journal.products == 1);
}

TEST_CASE(
    "the file wins for what it names, what it no longer names goes, registered devices "
    "stay",
    "[fleet]") {
    fixture f;
    REQUIRE(f.fleet.seed(f.settings, nullptr, f.models).has_value());
    f.fleet.first_login({"a1pk", "dev1"}, 42);
    catalog::device_record api{{"a1pk", "api1"}, "sa", {}};
    f.fleet.register_device(api);
    const auto created = f.devices.find({"a1pk", "dev1"})->created_ms;

    f.settings.devices = {{"a1pk", "dev1", "new-secret"}};  // dev2 dropped, dev1 re-keyed
    REQUIRE(f.fleet.seed(f.settings, nullptr, f.models).has_value());
    const auto dev1 = f.devices.find({"a1pk", "dev1"});
    REQUIRE(dev1 != nullptr);
    CHECK(dev1->secret == "new-secret");
    CHECK(dev1->created_ms == created);  // the same device, not a new one
    CHECK(dev1->active_ms == 42);
    CHECK(f.devices.find({"a1pk", "dev2"}) == nullptr);
    CHECK(f.journal.deleted == std::vector<std::string>{"dev2"});
    CHECK(f.devices.find({"a1pk", "api1"}) != nullptr);  // RegisterDevice's, not the file's
}

TEST_CASE("disabling closes the live session, deleting forgets its queue too", "[fleet]") {
    fixture f;
    REQUIRE(f.fleet.seed(f.settings, nullptr, f.models).has_value());
    f.fleet.set_disabled({"a1pk", "dev1"}, true);
    CHECK(f.devices.find({"a1pk", "dev1"})->disabled);
    f.fleet.delete_device({"a1pk", "dev2"});
    CHECK(f.devices.find({"a1pk", "dev2"}) == nullptr);
    CHECK(f.closed == std::vector<std::string>{"dev1", "dev2 forget"});
}
