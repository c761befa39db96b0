#pragma once

#include "catalog/device_directory.hpp"
#include "cluster/member.hpp"
#include "rrpc/call_log.hpp"
#include "store/journal.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/result.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rrpcd::cluster {

using catalog::catalog_rows;

/// Cluster mode's journal: every record goes to the node's own journal (its SQLite store, which
/// keeps what this node accepted across its restarts), and what the nodes share goes to Redis as
/// well: products and devices (hashes `rrpcd:products`, `rrpcd:devices`, each change told on
/// `rrpcd:catalog`) and async calls (`rrpcd:call:{id}`, kept for the retention). The Redis writes
/// go in the order they were made, one writer on a strand of its own; sync() vouches for both
/// (an error when Redis did not take one: the caller answers an error, never Success).
class shared_store final : public store::journal {
public:
    shared_store(boost::asio::io_context& io, store::journal& local, std::chrono::seconds retention,
                 std::shared_ptr<spdlog::logger> log);
    /// The membership whose connection carries the writes (before the first record), and
    /// whose subscription brings the catalog's changes.
    void attach(std::shared_ptr<member> m);

    /// Start-up: the shared catalog. When the cluster has none yet (its first node's first
    /// start), `local` is written as it first (a record another node wrote meanwhile stays).
    /// The error: Redis did not answer.
    boost::asio::awaitable<boost::system::result<catalog_rows, std::string>> load_catalog(
        catalog_rows local);
    /// An async call's record from the shared store (nullopt: not there, or Redis did not
    /// answer).
    boost::asio::awaitable<std::optional<rrpc::call_record>> find_call(std::uint64_t message_id);

    /// Changes told so far (on_catalog), and a read of the whole catalog again (on_reloaded):
    /// what changed while the catalog was being loaded at start is not lost.
    std::uint64_t changes_told() const noexcept { return told_.load(std::memory_order_relaxed); }
    void refresh();

    /// A change to the catalog, made by any node (this one included), read back from Redis:
    /// the record now (nullopt: deleted). On the store's strand.
    std::function<void(const catalog::device_key&, std::optional<catalog::device_record>)>
        on_device;
    std::function<void(catalog::product_record)> on_product;
    /// The whole catalog read again (changes may have been missed while the subscription was
    /// down; a Redis that came back empty is given this node's catalog first, `local_catalog`).
    std::function<void(catalog_rows)> on_reloaded;
    std::function<catalog_rows()> local_catalog;

    void message_accepted(const catalog::device_key& device,
                          const rrpc::queued_message& message) override;
    void message_done(const catalog::device_key& device, std::uint64_t message_id) override;
    void device_saved(const catalog::device_record& device, urgency u) override;
    void device_deleted(const catalog::device_key& device) override;
    void product_saved(const catalog::product_record& product) override;
    void call_saved(const rrpc::call_record& record) override;
    void session_saved(const catalog::device_key& device, const rrpc::kept_session& s,
                       urgency u) override;
    void session_deleted(const catalog::device_key& device) override;
    void delivery_queued(std::string_view queue, std::uint64_t message_id, std::int64_t queued_ms,
                         std::string_view body) override;
    void delivery_done(std::string_view queue, std::uint64_t message_id) override;
    void properties_saved(const catalog::device_key& device,
                          const std::vector<catalog::property_value>& values) override;
    void id_floor_saved(std::uint64_t floor, urgency u) override;
    boost::asio::awaitable<boost::system::error_code> sync() override;
    bool busy() const noexcept override;

private:
    /// Queues a Redis command after every one queued before it (any thread).
    void write(std::vector<std::string> argv);
    boost::asio::awaitable<void> flush();
    boost::asio::awaitable<boost::system::error_code> written();
    boost::asio::awaitable<void> apply(std::string change);
    boost::asio::awaitable<void> reload();
    /// After a catalog write Redis did not take (answered 503), or a read again that failed:
    /// each second until Redis answers, then the catalog is read again (a change the caller was
    /// refused is not kept here either).
    boost::asio::awaitable<void> heal();
    boost::asio::awaitable<boost::system::result<catalog_rows, std::string>> read_catalog();

    store::journal& local_;
    std::chrono::seconds retention_;
    std::shared_ptr<spdlog::logger> log_;
    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    std::shared_ptr<member> member_;
    // On the strand:
    std::deque<std::pair<std::uint64_t, std::vector<std::string>>> queue_;
    std::uint64_t issued_ = 0, written_ = 0, vouched_ = 0;
    std::vector<std::uint64_t> failures_;  ///< records Redis did not take (the latest ones)
    std::vector<boost::asio::steady_timer*> waiters_;
    bool flushing_ = false;
    bool healing_ = false;
    std::atomic<std::size_t> queued_{0};  ///< records waiting for Redis (busy())
    std::atomic<std::uint64_t> told_{0};
};

}  // namespace rrpcd::cluster
