#include "config/settings.hpp"

#include <cstdlib>

namespace rrpcd::config {
namespace {

// Loopback only, so the demo credentials below reach nobody but this machine's users.
constexpr std::string_view default_toml = R"toml(# rrpcd embedded default configuration (demo).
# Listens on loopback only. The credentials are public demo values: never expose them.

[mqtt]
listen = "127.0.0.1:1883"

[http]
listen = "127.0.0.1:8080"

[log]
level = "info"

[[access_keys]]
id = "LTAIrrpcdDemoKey"
secret = "rrpcdDemoAccessSecret"

[[devices]]
product_key = "a1demo"
device_name = "dev1"
device_secret = "rrpcdDemoDeviceSecret"
)toml";

// The demo product's thing model: a sync service (answered over RRPC) and an async one.
constexpr std::string_view demo_tsl = R"json({
  "schema": "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json",
  "profile": {"productKey": "a1demo"},
  "services": [
    {"identifier": "Echo", "name": "Echo", "callType": "sync", "method": "thing.service.Echo",
     "inputData": [{"identifier": "text", "name": "text", "dataType": {"type": "text", "specs": {"length": "256"}}}],
     "outputData": [{"identifier": "text", "name": "text", "dataType": {"type": "text", "specs": {"length": "256"}}}]},
    {"identifier": "SetWeight", "name": "Set weight", "callType": "async", "method": "thing.service.SetWeight",
     "inputData": [{"identifier": "NewWeight", "name": "New weight",
                    "dataType": {"type": "double", "specs": {"min": "0", "max": "200", "step": "1", "unit": "kg"}}}],
     "outputData": []}
  ]
})json";

}  // namespace

std::string_view embedded_default_toml() noexcept {
    return default_toml;
}

settings embedded_default() {
    auto loaded = load_string(default_toml, "<embedded default>");
    if (!loaded) std::abort();  // the unit tests load it; a broken default is a build defect
    loaded->demo = true;
    loaded->products.push_back({"a1demo", {std::string{demo_tsl}}});
    return std::move(*loaded);
}

}  // namespace rrpcd::config
