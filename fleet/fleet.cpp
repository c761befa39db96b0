#include "fleet/fleet.hpp"
#include "kit/logfmt.hpp"

#include "kit/unix_ms.hpp"

#include <algorithm>

namespace rrpcd::fleet {

catalog::product_ref service::create_product(catalog::product_record p) {
    const std::lock_guard lock{mutex_};
    return create_product_locked(std::move(p));
}

catalog::product_ref service::create_product_locked(catalog::product_record p) {
    journal_.product_saved(p);
    const auto key = p.product_key;
    devices_.add_product(std::move(p));
    return devices_.find_product(key);
}

catalog::device_ref service::register_device(catalog::device_record d) {
    const std::lock_guard lock{mutex_};
    return register_device_locked(std::move(d));
}

catalog::device_ref service::register_device_locked(catalog::device_record d) {
    auto kept = devices_.add(std::move(d));
    journal_.device_saved(*kept);
    return kept;
}

void service::delete_device(const catalog::device_key& key) {
    const auto gone = key;  // `key` may be the record's own, which goes now
    {
        const std::lock_guard lock{mutex_};
        journal_.device_deleted(gone);
        devices_.remove(gone);
    }
    disconnect_(gone, true);
}

void service::set_disabled(const catalog::device_key& key, bool disabled) {
    {
        const std::lock_guard lock{mutex_};
        const auto d = devices_.update(key, [&](catalog::device_record& r) {
            r.disabled = disabled;
            return true;
        });
        if (d == nullptr) return;
        journal_.device_saved(*d);
    }
    if (disabled) disconnect_(key, false);
}

void service::first_login(const catalog::device_key& key, std::int64_t now_ms) {
    const std::lock_guard lock{mutex_};
    const auto d = devices_.update(key, [&](catalog::device_record& r) {
        if (r.active_ms != 0) return false;
        r.active_ms = now_ms;
        return true;
    });
    if (d != nullptr) journal_.device_saved(*d, store::journal::urgency::lazy);
}

namespace {

std::vector<config::access_key> with_others(std::vector<config::access_key> keys,
                                            const std::vector<config::access_key>& others) {
    for (const auto& k : others)
        if (std::none_of(keys.begin(), keys.end(), [&](const auto& c) { return c.id == k.id; }))
            keys.push_back(k);
    return keys;
}

}  // namespace

std::vector<config::access_key> service::reseed_access_keys(const config::settings& settings,
                                                            store::sqlite_store* store) {
    const std::lock_guard lock{mutex_};
    if (store != nullptr) store->seed_access_keys(settings.access_keys);
    return with_others(settings.access_keys, store_keys_);
}

boost::system::result<std::vector<config::access_key>> service::seed(
    const config::settings& settings, store::sqlite_store* store, catalog::thing_models& models) {
    // Idempotent: what the file says wins for what it names; nothing unchanged is rewritten.
    const std::lock_guard lock{mutex_};
    const auto now = kit::unix_ms();
    const auto ensure_product = [&](const std::string& product_key) {
        if (devices_.find_product(product_key) != nullptr) return;
        create_product_locked({product_key, product_key, 0, 1, {}, now});
    };
    for (const auto& p : settings.products) ensure_product(p.product_key);
    if (store != nullptr) {
        store::sqlite_store::tsl_documents documents;
        for (const auto& p : settings.products) documents[p.product_key] = p.tsl_json;
        store->seed_thing_models(std::move(documents));
        store->seed_access_keys(settings.access_keys);
        auto keys = store->load_other_access_keys();
        if (!keys) return keys.error();
        store_keys_ = std::move(*keys);
        auto others = store->load_other_thing_models();
        if (!others) return others.error();
        for (const auto& [product_key, docs] : *others) {
            if (models.contains(product_key)) continue;  // the file's model wins
            auto& model = models[product_key];
            for (const auto& doc : docs)
                if (auto added = catalog::add_tsl(doc, model); !added)
                    log_->error("event=thing_model_skipped pk={} reason={}", product_key,
                                kit::logfmt_value(added.error()));
        }
    }
    for (const auto& d : settings.devices) {
        ensure_product(d.product_key);
        const catalog::device_key key{d.product_key, d.device_name};
        const auto existing = devices_.find(key);
        if (existing != nullptr && existing->secret == d.device_secret && existing->from_config)
            continue;
        catalog::device_record r{key, d.device_secret, {}};
        if (existing != nullptr) r = *existing;
        r.secret = d.device_secret;
        r.from_config = true;
        if (r.created_ms == 0) r.created_ms = now;
        register_device_locked(std::move(r));
    }
    // A device the file seeded and no longer names is gone; registered ones stay.
    std::vector<catalog::device_key> dropped;
    for (const auto& p : devices_.products())
        for (const auto& d : devices_.of_product(p))
            if (d->from_config &&
                std::none_of(settings.devices.begin(), settings.devices.end(), [&](const auto& c) {
                    return c.product_key == d->key.product_key &&
                           c.device_name == d->key.device_name;
                }))
                dropped.push_back(d->key);
    for (const auto& key : dropped) {
        journal_.device_deleted(key);
        devices_.remove(key);
        log_->info("event=device_unseeded pk={} dn={}", key.product_key, key.device_name);
    }
    return with_others(settings.access_keys, store_keys_);
}

}  // namespace rrpcd::fleet
