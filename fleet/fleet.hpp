#pragma once

#include "catalog/device_directory.hpp"
#include "catalog/thing_model.hpp"
#include "config/settings.hpp"
#include "store/journal.hpp"
#include "store/sqlite_store.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace rrpcd::fleet {

/// Every change to the fleet (products, devices, access keys, thing models) goes through here:
/// the directory is changed, the journal told, and a device's live session closed when it is
/// deleted or disabled. The API's management actions, a device's first login and the config
/// file's seeding all use it. Any thread: changes are made one at a time (a lock held for the
/// directory and journal updates, never across I/O); `disconnect` must not block.
class service {
public:
    /// `disconnect(device, forget)` closes the device's live session (and drops its queued
    /// messages when `forget`).
    using disconnect_fn = std::function<void(const catalog::device_key&, bool forget)>;

    service(catalog::device_directory& devices, store::journal& journal, disconnect_fn disconnect,
            std::shared_ptr<spdlog::logger> log)
        : devices_(devices),
          journal_(journal),
          disconnect_(std::move(disconnect)),
          log_(std::move(log)) {}

    const catalog::device_directory& devices() const noexcept { return devices_; }

    /// A new product (its key not yet taken).
    catalog::product_ref create_product(catalog::product_record p);
    /// A new device (its key not yet taken).
    catalog::device_ref register_device(catalog::device_record d);
    /// The device and its queued messages go; its session is closed.
    void delete_device(const catalog::device_key& key);
    /// Refused at CONNECT while disabled; a disabled device's session is closed.
    void set_disabled(const catalog::device_key& key, bool disabled);
    /// Its first login (UNACTIVE no more); recorded lazily (losing it in a crash costs little).
    void first_login(const catalog::device_key& key, std::int64_t now_ms);
    /// Resumes once every change made so far is on disk.
    boost::asio::awaitable<boost::system::error_code> sync() { return journal_.sync(); }

    /// Start-up: the config file's products, devices, access keys and thing models into the
    /// directory and the store, idempotently: what the file names wins, a device the file
    /// seeded and no longer names goes, what the API registered stays. `models` gains the
    /// store's models for products the file does not model. Returns every access key: the
    /// file's, then the store's others.
    boost::system::result<std::vector<config::access_key>> seed(const config::settings& settings,
                                                                store::sqlite_store* store,
                                                                catalog::thing_models& models);
    /// SIGHUP: the file's access keys replace the ones it seeded; returns every access key.
    std::vector<config::access_key> reseed_access_keys(const config::settings& settings,
                                                       store::sqlite_store* store);

private:
    catalog::product_ref create_product_locked(catalog::product_record p);
    catalog::device_ref register_device_locked(catalog::device_record d);

    std::mutex mutex_;
    catalog::device_directory& devices_;
    store::journal& journal_;
    disconnect_fn disconnect_;
    std::shared_ptr<spdlog::logger> log_;
    std::vector<config::access_key> store_keys_;  ///< in the store, not owned by the file
};

}  // namespace rrpcd::fleet
