// libFuzzer target: a thing model (TSL) document and InvokeThingService Args, split at the first
// NUL byte; without one, the input is Args for the demo product's model. Parsing and validating
// must reject what is wrong with a message, never crash or recurse without bound.
#include "catalog/thing_model.hpp"
#include "config/settings.hpp"

#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

const rrpcd::catalog::thing_model& demo_model() {
    static const rrpcd::catalog::thing_model model = [] {
        rrpcd::catalog::thing_model m;
        const auto demo = rrpcd::config::embedded_default();  // held: the loop reads into it
        for (const auto& product : demo->products)
            for (const auto& doc : product.tsl_json) (void)rrpcd::catalog::add_tsl(doc, m);
        return m;
    }();
    return model;
}

void validate_all(const rrpcd::catalog::thing_model& model, std::string_view args_text) {
    boost::system::error_code ec;
    const auto args = boost::json::parse(args_text, ec);
    if (ec || !args.is_object()) return;
    for (const auto& [name, service] : model.services)
        (void)rrpcd::catalog::validate_args(service, args.get_object());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in{reinterpret_cast<const char*>(data), size};
    const auto split = in.find('\0');
    if (split == std::string_view::npos) {
        validate_all(demo_model(), in);
        return 0;
    }
    rrpcd::catalog::thing_model model;
    if (rrpcd::catalog::add_tsl(in.substr(0, split), model))
        validate_all(model, in.substr(split + 1));
    return 0;
}
