#include "server/thing_models.hpp"

namespace rrpcd::server {

boost::system::result<catalog::thing_models, std::string> load_thing_models(
    const config::settings& settings) {
    catalog::thing_models models;
    for (std::size_t i = 0; i < settings.products.size(); ++i) {
        const auto& p = settings.products[i];
        auto& model = models[p.product_key];
        for (std::size_t j = 0; j < p.tsl_json.size(); ++j) {
            if (auto added = catalog::add_tsl(p.tsl_json[j], model); !added)
                return "products[" + std::to_string(i) + "] (" + p.product_key + ") tsl[" +
                       std::to_string(j) + "]: " + added.error();
        }
    }
    return models;
}

}  // namespace rrpcd::server
