#pragma once

#include "config/settings.hpp"
#include "kit/histogram.hpp"
#include "store/journal.hpp"

#include <spdlog/logger.h>
#include <boost/system/result.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace rrpcd::store {

/// The embedded store: one SQLite database in WAL mode, its schema versioned (PRAGMA
/// user_version) and migrated at open. After open, only its own writer thread touches the
/// database: the io thread queues records and never waits on the disk; the writer writes
/// whatever is queued in one transaction (group commit, synchronous=FULL), then wakes the
/// sync() waiters on their own executors. Implements the journal of accepted QoS 1 messages.
/// SQLite's result codes as error codes (message: sqlite3_errstr).
const boost::system::error_category& sqlite_category() noexcept;

class sqlite_store final : public store::journal, public rrpc::call_archive {
public:
    using stored_message = std::pair<catalog::device_key, rrpc::queued_message>;

    /// Opens (creating the file and its directory), takes the store's lock (one process per
    /// store), checks the file (PRAGMA quick_check) and migrates; the error names the file and
    /// what to do.
    /// Call records older than `retention` are deleted (checked once a minute).
    /// What waits for the writer past `max_queue_bytes` makes busy() true.
    static boost::system::result<std::unique_ptr<sqlite_store>, std::string> open(
        const std::filesystem::path& path, std::chrono::seconds retention,
        std::shared_ptr<spdlog::logger> log, std::size_t max_queue_bytes = 64u << 20);
    sqlite_store(const sqlite_store&) = delete;
    sqlite_store& operator=(const sqlite_store&) = delete;
    /// Writes what is still queued, stops the writer and closes the database; sync() waiters
    /// not woken yet never are. Call it while their io_context still exists. Idempotent.
    void close();
    ~sqlite_store() override { close(); }

    /// Start-up (the loads wait for the writer's batch in progress): the kept QoS 1 messages,
    /// in acceptance order.
    boost::system::result<std::vector<stored_message>> load_messages();
    using catalog_rows = catalog::catalog_rows;
    /// Start-up: the products and devices.
    boost::system::result<catalog_rows> load_catalog();
    /// Start-up: the async calls within the retention still waiting for their answer, oldest
    /// first (the answered ones are read back when asked for: the archive below).
    boost::system::result<std::vector<rrpc::call_record>> load_calls();

    // rrpc::call_archive: the async calls' outcomes within the retention (io thread; reads on
    // a connection of their own, which never waits for the writer).
    std::optional<rrpc::call_record> load(std::uint64_t message_id) override;
    std::optional<rrpc::answer_cursor> answered_at(std::uint64_t message_id) override;
    std::vector<rrpc::call_record> answered(rrpc::answer_cursor from, rrpc::answer_cursor to,
                                            std::size_t rows) override;
    fitting newest_fitting(rrpc::answer_cursor from, rrpc::answer_cursor to, std::size_t max_count,
                           std::size_t max_bytes) override;
    /// Start-up: a MessageId above every one this store's process issued (ids it holds, and
    /// the floor id_floor_saved() wrote ahead of the clock).
    boost::system::result<std::uint64_t> load_id_floor();
    void id_floor_saved(std::uint64_t floor, urgency u) override;
    /// Start-up: the clean=0 sessions.
    boost::system::result<std::vector<std::pair<catalog::device_key, rrpc::kept_session>>>
    load_sessions();

    /// One reply a webhook had not delivered.
    struct delivery_entry {
        std::string hook;
        std::uint64_t message_id = 0;
        std::int64_t queued_ms = 0;
        std::string body;
    };
    /// Start-up: the devices' latest property values.
    boost::system::result<std::vector<std::pair<catalog::device_key, catalog::property_value>>>
    load_property_values();
    /// Start-up: the webhooks' undelivered replies, in the order they were queued.
    boost::system::result<std::vector<delivery_entry>> load_delivery_queue();

    /// TSL documents by ProductKey.
    using tsl_documents = std::map<std::string, std::vector<std::string>, std::less<>>;
    /// Start-up: the access keys and thing models the config file does not own.
    boost::system::result<std::vector<config::access_key>> load_other_access_keys();
    boost::system::result<tsl_documents> load_other_thing_models();
    /// Makes the config-owned access keys (start, SIGHUP) and thing models (start) exactly
    /// these: what the file no longer names goes, what others added stays.
    void seed_access_keys(std::vector<config::access_key> keys);
    void seed_thing_models(tsl_documents models);

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
    void delivery_queued(std::string_view hook, std::uint64_t message_id, std::int64_t queued_ms,
                         std::string_view body) override;
    void delivery_done(std::string_view hook, std::uint64_t message_id) override;
    void properties_saved(const catalog::device_key& device,
                          const std::vector<catalog::property_value>& values) override;
    boost::asio::awaitable<boost::system::error_code> sync() override;
    bool busy() const noexcept override {
        return queued_bytes_.load(std::memory_order_relaxed) > max_queue_bytes_;
    }
    /// Bytes of records waiting for the writer (any thread).
    std::size_t queued_bytes() const noexcept {
        return queued_bytes_.load(std::memory_order_relaxed);
    }

    /// False from a failed transaction until one writes again; any thread.
    bool writable() const noexcept { return !failing_.load(std::memory_order_relaxed); }
    /// A write that changes nothing kept (a row in and out again), so that a store that failed
    /// finds out it is writable again without other traffic (the readiness probe asks it).
    void probe();

    /// How long each transaction took, BEGIN to COMMIT (a copy); any thread.
    kit::histogram write_seconds() const {
        const std::lock_guard lock{stats_mutex_};
        return write_seconds_;
    }

    /// Transactions that failed (a full disk, a lock held too long, an I/O error); any thread.
    std::uint64_t failed_batches() const noexcept {
        return failed_batches_.load(std::memory_order_relaxed);
    }

private:
    using job = std::function<void()>;
    /// Told the outcome of the transaction that ran its job (writer thread).
    using done_fn = std::function<void(boost::system::error_code)>;

    sqlite_store(sqlite3* db, sqlite3* reader, sqlite3_stmt* insert_message,
                 sqlite3_stmt* delete_message, int lock_fd, std::chrono::seconds retention,
                 std::shared_ptr<spdlog::logger> log, std::size_t max_queue_bytes);
    /// Queues `work` and `done`, both run on the writer thread: `done` after the transaction
    /// that ran `work` ended, with its outcome. `bytes`: what the job holds (the queue's bound).
    void enqueue(job work, done_fn done = {}, urgency u = urgency::durable, std::size_t bytes = 0,
                 bool vouched = true);
    /// The device's session as it is to be written (nullopt: deleted), replacing one that waits
    /// for the writer: a device that changes its subscriptions many times between two batches
    /// costs one pending snapshot, never a queue of them.
    void session_pending(const catalog::device_key& device, std::optional<rrpc::kept_session> s,
                         urgency u);
    /// Writer thread: writes the device's pending snapshot (taken out of the map).
    void write_session(const catalog::device_key& device);
    void run_writer();
    /// Runs the jobs in one transaction; any failed statement, or a failed COMMIT, rolls the
    /// whole batch back and is its outcome.
    boost::system::error_code write_batch(std::vector<job>& jobs);
    /// Binds `args` in order to `st` and steps it once; a failure becomes the batch's outcome.
    template <class... Args>
    void step(sqlite3_stmt* st, const Args&... args);
    /// Prepares `sql`, runs it as step() does, and finalizes it (writer thread).
    template <class... Args>
    void write(const char* sql, const Args&... args);
    /// Calls `on_row(statement)` for each row of `sql` with `args` bound (start-up loads, under
    /// db_mutex_).
    template <class OnRow, class... Args>
    boost::system::error_code read(const char* sql, OnRow on_row, const Args&... args);
    /// The same on the reader connection (the archive).
    template <class OnRow, class... Args>
    boost::system::error_code read_archive(const char* sql, OnRow on_row, const Args&... args);
    /// The oldest creation time (Unix ms) the retention keeps.
    std::int64_t retained_since() const;

    sqlite3* db_;
    sqlite3* reader_;          ///< the archive's reads
    std::mutex reader_mutex_;  ///< reader_ (io thread; any thread with several shards)
    int lock_fd_;              ///< `{path}.lock`, flock()ed for the process's life
    sqlite3_stmt* insert_message_ = nullptr;
    sqlite3_stmt* delete_message_ = nullptr;
    std::shared_ptr<spdlog::logger> log_;
    std::mutex mutex_;     ///< the queue
    std::mutex db_mutex_;  ///< the connection: the writer's batches and the start-up loads
    std::condition_variable wake_;
    std::vector<job> jobs_;
    /// A sync() waiter and the first job it vouches for (the one after the previous waiter's).
    struct waiter {
        std::uint64_t since;
        done_fn done;
    };
    std::vector<waiter> done_;
    std::uint64_t queued_ = 0;  ///< jobs enqueued so far (under mutex_)
    /// Session snapshots waiting for the writer, one per device (under mutex_), and their bytes.
    struct pending_session {
        std::optional<rrpc::kept_session> session;
        std::size_t bytes = 0;
    };
    std::unordered_map<catalog::device_key, pending_session, catalog::device_key_hash>
        sessions_pending_;
    std::size_t jobs_bytes_ = 0;  ///< bytes held by jobs_ and sessions_pending_ (under mutex_)
    std::size_t jobs_queued_bytes_ = 0;  ///< of which jobs_'s own (under mutex_)
    std::size_t max_queue_bytes_;
    std::atomic<std::size_t> queued_bytes_{0};  ///< jobs_bytes_, for busy() on any thread
    std::uint64_t since_waiter_ = 0;  ///< the first job after the latest waiter (under mutex_)
    boost::system::error_code last_failure_;  ///< writer thread
    bool stopping_ = false;
    bool urgent_ = false;  ///< a durable record is queued: the writer is (being) woken
    /// One past the sequence number of the last record in jobs_ that sync() waiters vouch for;
    /// 0: none (under mutex_)
    std::uint64_t vouched_below_ = 0;
    std::chrono::seconds retention_;
    std::chrono::steady_clock::time_point purged_{};  ///< writer thread only
    boost::system::error_code batch_error_;           ///< writer thread: the batch's first failure
    std::atomic<bool> failing_{false};
    std::atomic<bool> probe_pending_{
        false};  ///< a probe() job is queued  ///< set by the writer thread: the last batch failed
    std::atomic<std::uint64_t> failed_batches_{0};
    mutable std::mutex stats_mutex_;
    kit::histogram write_seconds_;  ///< guarded by stats_mutex_
    std::thread writer_;
};

}  // namespace rrpcd::store
