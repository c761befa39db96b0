#include "store/sqlite_store.hpp"
#include "kit/logfmt.hpp"
#include "kit/unix_ms.hpp"
#include "kit/use_nothrow.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstring>
#include <string_view>

namespace rrpcd::store {

namespace asio = boost::asio;

namespace {

/// The schema, one step per version; a database at version N runs steps N.. at open.
constexpr std::array<std::string_view, 9> migrations = {
    // 1: QoS 1 messages accepted for a device and not yet done with, in acceptance order.
    R"sql(
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    product_key TEXT NOT NULL,
    device_name TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    accepted_ms INTEGER NOT NULL
);
CREATE INDEX messages_by_id ON messages (message_id);
)sql",
    // 2: the products and devices (CreateProduct, RegisterDevice, or seeded from the config).
    R"sql(
CREATE TABLE products (
    product_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    node_type INTEGER NOT NULL,
    data_format INTEGER NOT NULL,
    description TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE devices (
    product_key TEXT NOT NULL,
    device_name TEXT NOT NULL,
    secret TEXT NOT NULL,
    iot_id TEXT NOT NULL,
    nickname TEXT NOT NULL,
    disabled INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    active_ms INTEGER NOT NULL,
    from_config INTEGER NOT NULL,
    PRIMARY KEY (product_key, device_name)
);
)sql",
    // 3: async calls (AsyncRRpc, async thing services): accepted, then their outcome.
    R"sql(
CREATE TABLE calls (
    message_id INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL,
    product_key TEXT NOT NULL,
    device_name TEXT NOT NULL,
    topic TEXT NOT NULL,
    request BLOB NOT NULL,
    identifier TEXT NOT NULL,
    state INTEGER NOT NULL,
    reply_topic TEXT NOT NULL,
    reply BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    finished_ms INTEGER NOT NULL
);
CREATE INDEX calls_by_created ON calls (created_ms);
)sql",
    // 4: access keys and thing models; the config file owns the rows it seeds (from_config).
    R"sql(
CREATE TABLE access_keys (
    id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    qps_rrpc INTEGER NOT NULL,
    qps_async_rrpc INTEGER NOT NULL,
    qps_invoke_thing_service INTEGER NOT NULL,
    from_config INTEGER NOT NULL
);
CREATE TABLE thing_models (
    product_key TEXT NOT NULL,
    position INTEGER NOT NULL,
    tsl TEXT NOT NULL,
    from_config INTEGER NOT NULL,
    PRIMARY KEY (product_key, position)
);
)sql",
    // 5: clean=0 sessions' subscriptions ([[filter, qos], ...] as JSON), kept while away.
    R"sql(
CREATE TABLE sessions (
    product_key TEXT NOT NULL,
    device_name TEXT NOT NULL,
    filters TEXT NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (product_key, device_name)
);
)sql",
    // 6: the replies each webhook (by URL) has still to deliver, in the order they were queued.
    R"sql(
CREATE TABLE webhook_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    hook TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    queued_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX webhook_queue_by_id ON webhook_queue (hook, message_id);
)sql",
    // 7: who made each async call (budgets are per access key), the answered ones in the order
    // they were answered (a reply stream's Last-Event-ID replays them from here), and the
    // MessageId floor (ids issued before a restart stay below it, whatever the clock does).
    R"sql(
ALTER TABLE calls ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX calls_by_answer ON calls (finished_ms, message_id) WHERE state = 1;
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql",
    // 8: which queued messages are async calls' requests (their answers, not a PUBACK, end
    // them; one whose call has ended is done with at the next start).
    R"sql(
ALTER TABLE messages ADD COLUMN call INTEGER NOT NULL DEFAULT 0;
)sql",
    // 9: each device's latest property values (QueryDevicePropertyStatus, the console).
    R"sql(
CREATE TABLE property_values (
    product_key TEXT NOT NULL,
    device_name TEXT NOT NULL,
    identifier TEXT NOT NULL,
    value TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    PRIMARY KEY (product_key, device_name, identifier)
);
)sql",
};

/// SQLite's result codes as error codes: the store's one error vocabulary.
class sqlite_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "sqlite"; }
    std::string message(int rc) const override { return sqlite3_errstr(rc); }
};

std::chrono::system_clock::time_point time_of(std::int64_t ms) {
    return std::chrono::system_clock::time_point{std::chrono::milliseconds{ms}};
}

std::string error_text(sqlite3* db) {
    return db != nullptr ? sqlite3_errmsg(db) : "out of memory";
}

/// What PRAGMA quick_check finds wrong, or "" when the file is sound.
std::string quick_check(sqlite3* db) {
    sqlite3_stmt* st = nullptr;
    if (const auto rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(5)", -1, &st, nullptr);
        rc != SQLITE_OK)
        return sqlite3_errstr(rc);
    std::string problems;
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        const std::string_view line = text != nullptr ? text : "";
        if (line == "ok") continue;
        problems += (problems.empty() ? "" : "; ") + std::string{line.substr(0, 200)};
    }
    std::replace(problems.begin(), problems.end(), '\n', ' ');  // one log line
    if (rc != SQLITE_DONE && problems.empty()) problems = sqlite3_errstr(rc);
    sqlite3_finalize(st);
    return problems;
}

bool exec(sqlite3* db, std::string_view sql) {
    return sqlite3_exec(db, std::string{sql}.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
}

std::int64_t user_version(sqlite3* db) {
    sqlite3_stmt* st = nullptr;
    std::int64_t v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/// Bytes to bind as a BLOB (a string_view binds as TEXT).
struct blob {
    std::string_view bytes;
};
void bind_value(sqlite3_stmt* st, int i, std::string_view s) {
    sqlite3_bind_text(st, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}
void bind_value(sqlite3_stmt* st, int i, blob b) {
    sqlite3_bind_blob(st, i, b.bytes.data(), static_cast<int>(b.bytes.size()), SQLITE_TRANSIENT);
}
template <std::integral I>
void bind_value(sqlite3_stmt* st, int i, I v) {
    sqlite3_bind_int64(st, i, static_cast<sqlite3_int64>(v));
}

std::string column_text(sqlite3_stmt* st, int i) {
    const auto* p = sqlite3_column_blob(st, i);
    return p == nullptr ? std::string{}
                        : std::string{static_cast<const char*>(p),
                                      static_cast<std::size_t>(sqlite3_column_bytes(st, i))};
}

boost::system::error_code sqlite_error(int rc) {
    return {rc, sqlite_category()};
}

}  // namespace

const boost::system::error_category& sqlite_category() noexcept {
    static const sqlite_category_impl category;
    return category;
}

boost::system::result<std::unique_ptr<sqlite_store>, std::string> sqlite_store::open(
    const std::filesystem::path& path, std::chrono::seconds retention,
    std::shared_ptr<spdlog::logger> log, std::size_t max_queue_bytes) {
    const auto fail = [&](sqlite3* db, std::string_view what) {
        std::string text =
            "store " + path.string() + ": " + std::string{what} + ": " + error_text(db);
        sqlite3_close(db);
        return text;
    };
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return "store " + path.string() + ": cannot create its directory: " + ec.message();
    // One process per store, for the process's life: a second rrpcd on the same file would hand
    // out the same MessageIds and delete the other's messages. The lock file names the holder.
    const auto lock_path = path.string() + ".lock";
    const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) {
        const int error = errno;
        // A volume mounted root-owned: say which user must be able to write where.
        const auto dir = path.has_parent_path() ? path.parent_path().string() : std::string{"."};
        return "store " + path.string() + ": cannot open " + lock_path + ": " +
               std::strerror(error) +
               (error == EACCES || error == EROFS
                    ? " (the directory " + dir + " must be writable by uid " +
                          std::to_string(::getuid()) + ", gid " + std::to_string(::getgid()) +
                          ": chown it, or set [store] path elsewhere)"
                    : std::string{});
    }
    if (::flock(lock, LOCK_EX | LOCK_NB) != 0) {
        char holder[32] = {};
        const auto n = ::pread(lock, holder, sizeof holder - 1, 0);
        ::close(lock);
        return "store " + path.string() + " is in use by another rrpcd (pid " +
               (n > 0 ? std::string{holder, static_cast<std::size_t>(n)} : std::string{"?"}) +
               "): stop it, or give this one another [store] path";
    }
    const auto pid = std::to_string(::getpid());
    if (::ftruncate(lock, 0) != 0 ||
        ::pwrite(lock, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        ::close(lock);
        return "store " + path.string() + ": cannot write " + lock_path;
    }
    const auto fail_locked = [&](std::string text) {
        ::close(lock);
        return text;
    };
    // It holds DeviceSecrets and AccessKeySecrets: owner only (SQLite gives its -wal and -shm
    // files the database file's mode).
    if (const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600); fd >= 0)
        ::close(fd);
    std::filesystem::permissions(
        path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK)
        return fail_locked(fail(db, "cannot open"));
    // WAL: readers never block the writer; FULL: a commit is on disk before it completes.
    if (!exec(db, "PRAGMA journal_mode=WAL") || !exec(db, "PRAGMA synchronous=FULL") ||
        !exec(db, "PRAGMA busy_timeout=5000") ||
        // Mostly appends and deletes of recent rows: a small page cache does (RSS).
        !exec(db, "PRAGMA cache_size=-512"))
        return fail_locked(fail(db, "cannot configure"));
    const auto version = user_version(db);
    if (version < 0) return fail_locked(fail(db, "not a database"));
    if (version > static_cast<std::int64_t>(migrations.size()))
        return fail_locked(
            fail(db, "written by a newer rrpcd (schema " + std::to_string(version) + ")"));
    // A damaged file is refused, never served as a silently shorter queue.
    if (const auto damage = quick_check(db); !damage.empty()) {
        sqlite3_close(db);
        return fail_locked("store " + path.string() + " is damaged (" + damage +
                           "): restore it from a backup, or move it (and its -wal file) aside "
                           "to start with an empty store; rrpcd does not start on it");
    }
    for (auto v = static_cast<std::size_t>(version); v < migrations.size(); ++v) {
        const auto step = "BEGIN;" + std::string{migrations[v]} +
                          "PRAGMA user_version=" + std::to_string(v + 1) + ";COMMIT;";
        if (!exec(db, step)) {
            exec(db, "ROLLBACK");
            return fail_locked(
                fail(db, "migration to schema " + std::to_string(v + 1) + " failed"));
        }
        log->info("event=store_migrated path={} schema={}", kit::logfmt_value(path.string()),
                  v + 1);
    }
    // The archive's reads (lookups, replays) on a connection of their own.
    sqlite3* reader = nullptr;
    if (sqlite3_open_v2(path.c_str(), &reader, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK ||
        !exec(reader, "PRAGMA busy_timeout=1000") || !exec(reader, "PRAGMA cache_size=-512")) {
        sqlite3_close(reader);
        return fail_locked(fail(db, "cannot open a reader"));
    }
    sqlite3_stmt* insert = nullptr;
    sqlite3_stmt* remove = nullptr;
    if (sqlite3_prepare_v3(db,
                           "INSERT INTO messages (product_key, device_name, message_id, topic, "
                           "payload, accepted_ms, call) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           -1, SQLITE_PREPARE_PERSISTENT, &insert, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v3(db,
                           "DELETE FROM messages WHERE message_id = ? AND product_key = ? AND "
                           "device_name = ?",
                           -1, SQLITE_PREPARE_PERSISTENT, &remove, nullptr) != SQLITE_OK) {
        const auto text = std::string{"cannot prepare: "} + sqlite3_errmsg(db);
        sqlite3_finalize(insert);
        sqlite3_finalize(remove);
        sqlite3_close(reader);
        return fail_locked(fail(db, text));
    }
    return std::unique_ptr<sqlite_store>{new sqlite_store(
        db, reader, insert, remove, lock, retention, std::move(log), max_queue_bytes)};
}

sqlite_store::sqlite_store(sqlite3* db, sqlite3* reader, sqlite3_stmt* insert_message,
                           sqlite3_stmt* delete_message, int lock_fd,
                           std::chrono::seconds retention, std::shared_ptr<spdlog::logger> log,
                           std::size_t max_queue_bytes)
    : db_(db),
      reader_(reader),
      lock_fd_(lock_fd),
      insert_message_(insert_message),
      delete_message_(delete_message),
      log_(std::move(log)),
      max_queue_bytes_(max_queue_bytes),
      retention_(retention) {
    writer_ = std::thread{[this] { run_writer(); }};
}

void sqlite_store::close() {
    if (db_ == nullptr) return;
    {
        const std::lock_guard lock{mutex_};
        stopping_ = true;
    }
    wake_.notify_one();
    writer_.join();
    done_.clear();
    sqlite3_finalize(insert_message_);
    sqlite3_finalize(delete_message_);
    sqlite3_close(db_);
    db_ = nullptr;
    {
        const std::lock_guard lock{reader_mutex_};
        sqlite3_close(reader_);
        reader_ = nullptr;
    }
    ::close(lock_fd_);  // the next rrpcd may take the store
}

boost::system::result<std::vector<sqlite_store::stored_message>> sqlite_store::load_messages() {
    std::vector<stored_message> out;
    std::vector<stored_message> done;
    // A request whose call has a record is that call's (a store older than the column did not
    // say); one whose call ended (answered before the crash let its deletion be written) is
    // done with: sent again, its answer would have no call to go to.
    if (auto ec =
            read("SELECT m.product_key, m.device_name, m.message_id, m.topic, m.payload, "
                 "m.call, c.state FROM messages m LEFT JOIN calls c ON c.message_id = "
                 "m.message_id ORDER BY m.seq",
                 [&](sqlite3_stmt* st) {
                     const bool has_call = sqlite3_column_type(st, 6) != SQLITE_NULL;
                     rrpc::queued_message m{static_cast<std::uint64_t>(sqlite3_column_int64(st, 2)),
                                            column_text(st, 3), column_text(st, 4)};
                     m.call = has_call || sqlite3_column_int(st, 5) != 0;
                     auto& into = has_call && sqlite3_column_int(st, 6) != 0 ? done : out;
                     into.emplace_back(catalog::device_key{column_text(st, 0), column_text(st, 1)},
                                       std::move(m));
                 }))
        return ec;
    for (const auto& [device, m] : done) message_done(device, m.message_id);
    return out;
}

void sqlite_store::message_accepted(const catalog::device_key& device,
                                    const rrpc::queued_message& message) {
    enqueue(
        [this, device, message, at = kit::unix_ms()] {
            step(insert_message_, device.product_key, device.device_name, message.message_id,
                 message.topic, blob{message.payload}, at, message.call ? 1 : 0);
        },
        {}, urgency::durable, message.topic.size() + message.payload.size());
}

void sqlite_store::message_done(const catalog::device_key& device, std::uint64_t message_id) {
    // Not vouched for by later waiters: if it fails, the message is sent again after a restart
    // (at least once), and nobody else's record is lost.
    enqueue(
        [this, device, message_id] {
            step(delete_message_, message_id, device.product_key, device.device_name);
        },
        {}, urgency::durable, 0, false);
}

boost::system::result<sqlite_store::catalog_rows> sqlite_store::load_catalog() {
    catalog_rows out;
    if (auto ec =
            read("SELECT product_key, name, node_type, data_format, description, created_ms FROM "
                 "products",
                 [&](sqlite3_stmt* st) {
                     out.products.push_back({column_text(st, 0), column_text(st, 1),
                                             sqlite3_column_int(st, 2), sqlite3_column_int(st, 3),
                                             column_text(st, 4), sqlite3_column_int64(st, 5)});
                 }))
        return ec;
    if (auto ec =
            read("SELECT product_key, device_name, secret, iot_id, nickname, disabled, created_ms, "
                 "active_ms, from_config FROM devices",
                 [&](sqlite3_stmt* st) {
                     out.devices.push_back({{column_text(st, 0), column_text(st, 1)},
                                            column_text(st, 2),
                                            column_text(st, 3),
                                            column_text(st, 4),
                                            sqlite3_column_int(st, 5) != 0,
                                            sqlite3_column_int64(st, 6),
                                            sqlite3_column_int64(st, 7),
                                            sqlite3_column_int(st, 8) != 0});
                 }))
        return ec;
    return out;
}

void sqlite_store::device_saved(const catalog::device_record& d, urgency u) {
    enqueue(
        [this, d] {
            write(
                "INSERT OR REPLACE INTO devices (product_key, device_name, secret, iot_id, "
                "nickname, "
                "disabled, created_ms, active_ms, from_config) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                d.key.product_key, d.key.device_name, d.secret, d.iot_id, d.nickname, d.disabled,
                d.created_ms, d.active_ms, d.from_config);
        },
        {}, u);
}

void sqlite_store::device_deleted(const catalog::device_key& device) {
    enqueue([this, device] {
        write("DELETE FROM devices WHERE product_key = ? AND device_name = ?", device.product_key,
              device.device_name);
        // Its queued messages and property values go with it.
        write("DELETE FROM messages WHERE product_key = ? AND device_name = ?", device.product_key,
              device.device_name);
        write("DELETE FROM property_values WHERE product_key = ? AND device_name = ?",
              device.product_key, device.device_name);
    });
}

void sqlite_store::properties_saved(const catalog::device_key& device,
                                    const std::vector<catalog::property_value>& values) {
    std::size_t bytes = 0;
    for (const auto& v : values) bytes += v.identifier.size() + v.value.size();
    enqueue(
        [this, device, values] {
            for (const auto& v : values)
                write(
                    "INSERT OR REPLACE INTO property_values (product_key, device_name, "
                    "identifier, value, time_ms) VALUES (?, ?, ?, ?, ?)",
                    device.product_key, device.device_name, v.identifier, v.value, v.time_ms);
        },
        {}, urgency::lazy, bytes);
}

boost::system::result<std::vector<std::pair<catalog::device_key, catalog::property_value>>>
sqlite_store::load_property_values() {
    std::vector<std::pair<catalog::device_key, catalog::property_value>> out;
    const auto on_row = [&](sqlite3_stmt* st) {
        out.emplace_back(catalog::device_key{column_text(st, 0), column_text(st, 1)},
                         catalog::property_value{column_text(st, 2), column_text(st, 3),
                                                 sqlite3_column_int64(st, 4)});
    };
    if (auto ec =
            read("SELECT product_key, device_name, identifier, value, time_ms FROM property_values",
                 on_row))
        return ec;
    return out;
}

void sqlite_store::product_saved(const catalog::product_record& p) {
    enqueue([this, p] {
        write(
            "INSERT OR REPLACE INTO products (product_key, name, node_type, data_format, "
            "description, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
            p.product_key, p.name, p.node_type, p.data_format, p.description, p.created_ms);
    });
}

void sqlite_store::call_saved(const rrpc::call_record& r) {
    enqueue(
        [this, r] {
            write(
                "INSERT OR REPLACE INTO calls (message_id, kind, product_key, device_name, topic, "
                "request, identifier, state, reply_topic, reply, created_ms, finished_ms, owner) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                r.message_id, static_cast<int>(r.kind), r.device.product_key, r.device.device_name,
                r.topic, blob{r.request}, r.identifier, static_cast<int>(r.state), r.reply_topic,
                blob{r.reply}, kit::unix_ms(r.created), kit::unix_ms(r.finished), r.owner);
        },
        {}, urgency::durable, r.bytes());
}

void sqlite_store::session_saved(const catalog::device_key& device, const rrpc::kept_session& s,
                                 urgency u) {
    session_pending(device, s, u);
}

void sqlite_store::session_pending(const catalog::device_key& device,
                                   std::optional<rrpc::kept_session> s, urgency u) {
    std::size_t bytes = 64;
    if (s)
        for (const auto& [filter, qos] : s->filters) bytes += filter.size() + 16;
    bool queue_job = false;
    {
        const std::lock_guard lock{mutex_};
        auto [it, fresh] = sessions_pending_.try_emplace(device);
        jobs_bytes_ = jobs_bytes_ - it->second.bytes + bytes;
        queued_bytes_.store(jobs_bytes_, std::memory_order_relaxed);
        it->second = {std::move(s), bytes};
        queue_job = fresh;  // else the job already queued writes this newer snapshot
    }
    if (queue_job)
        enqueue([this, device] { write_session(device); }, {}, u);
    else if (u == urgency::durable)
        enqueue([] {}, {}, u);  // wakes the writer for the snapshot already queued
}

void sqlite_store::write_session(const catalog::device_key& device) {
    std::optional<rrpc::kept_session> s;
    {
        const std::lock_guard lock{mutex_};
        const auto it = sessions_pending_.find(device);
        if (it == sessions_pending_.end()) return;
        s = std::move(it->second.session);
        jobs_bytes_ -= it->second.bytes;
        queued_bytes_.store(jobs_bytes_, std::memory_order_relaxed);
        sessions_pending_.erase(it);
    }
    if (!s) {
        write("DELETE FROM sessions WHERE product_key = ? AND device_name = ?", device.product_key,
              device.device_name);
        return;
    }
    boost::json::array filters;
    for (const auto& [filter, qos] : s->filters)
        filters.push_back(boost::json::array{boost::json::string{filter}, static_cast<int>(qos)});
    write(
        "INSERT OR REPLACE INTO sessions (product_key, device_name, filters, "
        "last_seen_ms) VALUES (?, ?, ?, ?)",
        device.product_key, device.device_name, boost::json::serialize(filters), s->last_seen_ms);
}

void sqlite_store::delivery_queued(std::string_view hook, std::uint64_t message_id,
                                   std::int64_t queued_ms, std::string_view body) {
    enqueue(
        [this, hook = std::string{hook}, message_id, queued_ms, body = std::string{body}] {
            write(
                "INSERT INTO webhook_queue (hook, message_id, queued_ms, body) VALUES (?, ?, ?, ?)",
                hook, static_cast<std::int64_t>(message_id), queued_ms, body);
        },
        {}, urgency::lazy, hook.size() + body.size());
}

void sqlite_store::delivery_done(std::string_view hook, std::uint64_t message_id) {
    enqueue(
        [this, hook = std::string{hook}, message_id] {
            write("DELETE FROM webhook_queue WHERE hook = ? AND message_id = ?", hook,
                  static_cast<std::int64_t>(message_id));
        },
        {}, urgency::lazy);
}

boost::system::result<std::vector<sqlite_store::delivery_entry>>
sqlite_store::load_delivery_queue() {
    std::vector<delivery_entry> out;
    const auto on_row = [&](sqlite3_stmt* st) {
        out.push_back({column_text(st, 0), static_cast<std::uint64_t>(sqlite3_column_int64(st, 1)),
                       sqlite3_column_int64(st, 2), column_text(st, 3)});
    };
    if (auto ec = read("SELECT hook, message_id, queued_ms, body FROM webhook_queue ORDER BY seq",
                       on_row))
        return ec;
    return out;
}

void sqlite_store::id_floor_saved(std::uint64_t floor, urgency u) {
    enqueue(
        [this, floor] {
            write("INSERT OR REPLACE INTO meta (key, value) VALUES ('id_floor', ?)",
                  static_cast<std::int64_t>(floor));
        },
        {}, u);
}

boost::system::result<std::uint64_t> sqlite_store::load_id_floor() {
    // Every id the store holds, and the floor written each second ahead of the clock.
    std::uint64_t floor = 0;
    const auto at_least = [&](sqlite3_stmt* st) {
        floor = std::max(floor, static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)));
    };
    for (const char* sql : {"SELECT value FROM meta WHERE key = 'id_floor'",
                            "SELECT coalesce(max(message_id), 0) FROM calls",
                            "SELECT coalesce(max(message_id), 0) FROM messages"})
        if (auto ec = read(sql, at_least)) return ec;
    return floor;
}

void sqlite_store::probe() {
    // One at a time: a flood of /readyz while the disk is full must not grow the job queue.
    if (probe_pending_.exchange(true)) return;
    enqueue(
        [this] {
            probe_pending_ = false;
            // No device has an empty ProductKey: the row is nobody's, and gone in the same batch.
            write("INSERT OR REPLACE INTO sessions VALUES ('', '', '[]', 0)");
            write("DELETE FROM sessions WHERE product_key = '' AND device_name = ''");
        },
        {}, urgency::durable, 0, false);
}

void sqlite_store::session_deleted(const catalog::device_key& device) {
    session_pending(device, std::nullopt, urgency::durable);
}

boost::system::result<std::vector<std::pair<catalog::device_key, rrpc::kept_session>>>
sqlite_store::load_sessions() {
    std::vector<std::pair<catalog::device_key, rrpc::kept_session>> out;
    const auto on_row = [&](sqlite3_stmt* st) {
        rrpc::kept_session s;
        s.last_seen_ms = sqlite3_column_int64(st, 3);
        boost::system::error_code ec;
        const auto doc = boost::json::parse(column_text(st, 2), ec);
        if (const auto* filters = doc.if_array(); !ec && filters != nullptr)
            for (const auto& f : *filters)
                if (const auto* pair = f.if_array(); pair != nullptr && pair->size() == 2 &&
                                                     pair->at(0).is_string() &&
                                                     pair->at(1).is_int64())
                    s.filters.emplace_back(std::string{pair->at(0).get_string()},
                                           pair->at(1).get_int64() == 1 ? mqtt::qos::at_least_once
                                                                        : mqtt::qos::at_most_once);
        out.emplace_back(catalog::device_key{column_text(st, 0), column_text(st, 1)}, std::move(s));
    };
    if (auto ec =
            read("SELECT product_key, device_name, filters, last_seen_ms FROM sessions", on_row))
        return ec;
    return out;
}

namespace {

/// The columns of a call record, in the order record_of() reads them.
constexpr std::string_view call_columns =
    "message_id, kind, product_key, device_name, topic, request, identifier, state, "
    "reply_topic, reply, created_ms, finished_ms, owner";

rrpc::call_record record_of(sqlite3_stmt* st) {
    rrpc::call_record r;
    r.message_id = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
    r.kind = static_cast<rrpc::call_kind>(sqlite3_column_int(st, 1));
    r.device = {column_text(st, 2), column_text(st, 3)};
    r.topic = column_text(st, 4);
    r.request = column_text(st, 5);
    r.identifier = column_text(st, 6);
    r.state = static_cast<rrpc::call_state>(sqlite3_column_int(st, 7));
    r.reply_topic = column_text(st, 8);
    r.reply = column_text(st, 9);
    r.created = time_of(sqlite3_column_int64(st, 10));
    r.finished = time_of(sqlite3_column_int64(st, 11));
    r.owner = column_text(st, 12);
    return r;
}

}  // namespace

boost::system::result<std::vector<rrpc::call_record>> sqlite_store::load_calls() {
    std::vector<rrpc::call_record> out;
    const auto sql = "SELECT " + std::string{call_columns} +
                     " FROM calls WHERE state = 0 AND created_ms >= ? ORDER BY message_id";
    if (auto ec = read(
            sql.c_str(), [&](sqlite3_stmt* st) { out.push_back(record_of(st)); }, retained_since()))
        return ec;
    return out;
}

std::int64_t sqlite_store::retained_since() const {
    return kit::unix_ms() - std::chrono::milliseconds{retention_}.count();
}

std::optional<rrpc::call_record> sqlite_store::load(std::uint64_t message_id) {
    std::optional<rrpc::call_record> out;
    const auto sql = "SELECT " + std::string{call_columns} +
                     " FROM calls WHERE message_id = ? AND created_ms >= ?";
    (void)read_archive(
        sql.c_str(), [&](sqlite3_stmt* st) { out = record_of(st); },
        static_cast<std::int64_t>(message_id), retained_since());
    return out;
}

std::optional<rrpc::answer_cursor> sqlite_store::answered_at(std::uint64_t message_id) {
    std::optional<rrpc::answer_cursor> out;
    (void)read_archive(
        "SELECT finished_ms FROM calls WHERE message_id = ? AND state = 1",
        [&](sqlite3_stmt* st) {
            out = rrpc::answer_cursor{sqlite3_column_int64(st, 0), message_id};
        },
        static_cast<std::int64_t>(message_id));
    return out;
}

std::vector<rrpc::call_record> sqlite_store::answered(rrpc::answer_cursor from,
                                                      rrpc::answer_cursor to, std::size_t rows) {
    std::vector<rrpc::call_record> out;
    const auto sql = "SELECT " + std::string{call_columns} +
                     " FROM calls WHERE state = 1 AND (finished_ms, message_id) > (?, ?) AND "
                     "(finished_ms, message_id) <= (?, ?) AND created_ms >= ? "
                     "ORDER BY finished_ms, message_id LIMIT ?";
    (void)read_archive(
        sql.c_str(), [&](sqlite3_stmt* st) { out.push_back(record_of(st)); }, from.finished_ms,
        static_cast<std::int64_t>(from.message_id), to.finished_ms,
        static_cast<std::int64_t>(to.message_id), retained_since(), rows);
    return out;
}

rrpc::call_archive::fitting sqlite_store::newest_fitting(rrpc::answer_cursor from,
                                                         rrpc::answer_cursor to,
                                                         std::size_t max_count,
                                                         std::size_t max_bytes) {
    // Newest first, reading the index and each reply's length (not its bytes), to the bounds;
    // past them, the rest are only counted.
    fitting f{from, 0};
    std::size_t count = 0, bytes = 0;
    bool full = false;
    (void)read_archive(
        "SELECT finished_ms, message_id, length(reply) FROM calls WHERE state = 1 AND "
        "(finished_ms, message_id) > (?, ?) AND (finished_ms, message_id) <= (?, ?) AND "
        "created_ms >= ? ORDER BY finished_ms DESC, message_id DESC",
        [&](sqlite3_stmt* st) {
            if (full) {
                ++f.left_out;
                return;
            }
            const auto size =
                static_cast<std::size_t>(sqlite3_column_int64(st, 2)) + event_overhead;
            if (count + 1 > max_count || bytes + size > max_bytes) {
                full = true;
                f.start = {sqlite3_column_int64(st, 0),
                           static_cast<std::uint64_t>(sqlite3_column_int64(st, 1))};
                f.left_out = 1;
                return;
            }
            ++count;
            bytes += size;
        },
        from.finished_ms, static_cast<std::int64_t>(from.message_id), to.finished_ms,
        static_cast<std::int64_t>(to.message_id), retained_since());
    return f;
}

boost::system::result<std::vector<config::access_key>> sqlite_store::load_other_access_keys() {
    std::vector<config::access_key> out;
    if (auto ec =
            read("SELECT id, secret, qps_rrpc, qps_async_rrpc, qps_invoke_thing_service FROM "
                 "access_keys "
                 "WHERE from_config = 0",
                 [&](sqlite3_stmt* st) {
                     out.push_back({column_text(st, 0),
                                    column_text(st, 1),
                                    {static_cast<std::uint32_t>(sqlite3_column_int64(st, 2)),
                                     static_cast<std::uint32_t>(sqlite3_column_int64(st, 3)),
                                     static_cast<std::uint32_t>(sqlite3_column_int64(st, 4))}});
                 }))
        return ec;
    return out;
}

boost::system::result<sqlite_store::tsl_documents> sqlite_store::load_other_thing_models() {
    tsl_documents out;
    if (auto ec =
            read("SELECT product_key, tsl FROM thing_models WHERE from_config = 0 "
                 "ORDER BY product_key, position",
                 [&](sqlite3_stmt* st) { out[column_text(st, 0)].push_back(column_text(st, 1)); }))
        return ec;
    return out;
}

void sqlite_store::seed_access_keys(std::vector<config::access_key> keys) {
    enqueue([this, keys = std::move(keys)] {
        write("DELETE FROM access_keys WHERE from_config = 1");
        for (const auto& k : keys)
            write("INSERT OR REPLACE INTO access_keys VALUES (?, ?, ?, ?, ?, 1)", k.id, k.secret,
                  k.qps.rrpc, k.qps.async_rrpc, k.qps.invoke_thing_service);
    });
}

void sqlite_store::seed_thing_models(tsl_documents models) {
    enqueue([this, models = std::move(models)] {
        write("DELETE FROM thing_models WHERE from_config = 1");
        for (const auto& [product_key, documents] : models)
            for (std::size_t i = 0; i < documents.size(); ++i)
                write("INSERT OR REPLACE INTO thing_models VALUES (?, ?, ?, 1)", product_key, i,
                      documents[i]);
    });
}

template <class... Args>
void sqlite_store::step(sqlite3_stmt* st, const Args&... args) {
    int i = 0;
    (bind_value(st, ++i, args), ...);
    if (const auto rc = sqlite3_step(st); rc != SQLITE_DONE && !batch_error_)
        batch_error_ = sqlite_error(rc);
    sqlite3_reset(st);
}

template <class... Args>
void sqlite_store::write(const char* sql, const Args&... args) {
    sqlite3_stmt* st = nullptr;
    if (const auto rc = sqlite3_prepare_v2(db_, sql, -1, &st, nullptr); rc != SQLITE_OK) {
        if (!batch_error_) batch_error_ = sqlite_error(rc);
        return;
    }
    step(st, args...);
    sqlite3_finalize(st);
}

template <class OnRow, class... Args>
boost::system::error_code sqlite_store::read(const char* sql, OnRow on_row, const Args&... args) {
    const std::lock_guard lock{db_mutex_};  // the writer may be in a batch
    sqlite3_stmt* st = nullptr;
    if (const auto rc = sqlite3_prepare_v2(db_, sql, -1, &st, nullptr); rc != SQLITE_OK)
        return sqlite_error(rc);
    int i = 0;
    (bind_value(st, ++i, args), ...);
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) on_row(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? boost::system::error_code{} : sqlite_error(rc);
}

template <class OnRow, class... Args>
boost::system::error_code sqlite_store::read_archive(const char* sql, OnRow on_row,
                                                     const Args&... args) {
    // Its own connection: in WAL mode a reader never waits for the writer's transaction.
    const std::lock_guard lock{reader_mutex_};
    if (reader_ == nullptr) return sqlite_error(SQLITE_CANTOPEN);
    sqlite3_stmt* st = nullptr;
    if (const auto rc = sqlite3_prepare_v2(reader_, sql, -1, &st, nullptr); rc != SQLITE_OK)
        return sqlite_error(rc);
    int i = 0;
    (bind_value(st, ++i, args), ...);
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) on_row(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? boost::system::error_code{} : sqlite_error(rc);
}

asio::awaitable<boost::system::error_code> sqlite_store::sync() {
    // A timer that never fires on its own: after the transaction it is cancelled on its own
    // thread, and the transaction's outcome read.
    const auto ex = co_await asio::this_coro::executor;
    struct outcome {
        asio::steady_timer done;
        boost::system::error_code ec;
    };
    auto pending = std::make_shared<outcome>(
        outcome{asio::steady_timer{ex, asio::steady_timer::time_point::max()}, {}});
    enqueue([] {},
            [ex, pending](boost::system::error_code ec) {
                asio::post(ex, [pending, ec] {
                    pending->ec = ec;
                    pending->done.cancel();
                });
            });
    co_await pending->done.async_wait(kit::use_nothrow);
    co_return pending->ec;
}

void sqlite_store::enqueue(job work, done_fn done, urgency u, std::size_t bytes, bool vouched) {
    bool wake = false;
    {
        const std::lock_guard lock{mutex_};
        jobs_.push_back(std::move(work));
        const auto seq = queued_++;
        // What a sync() waiter vouches for: durable records of what was accepted (an API
        // answer waits for them). A lazy record (the id floor, a last-seen time), a deletion or
        // a probe failing with its batch does not fail a later, unrelated waiter, nor does a
        // vouched record fail a waiter that came after it.
        if (vouched && u == urgency::durable) vouched_below_ = seq + 1;
        jobs_bytes_ += bytes;
        jobs_queued_bytes_ += bytes;
        queued_bytes_.store(jobs_bytes_, std::memory_order_relaxed);
        if (done) {
            done_.push_back({since_waiter_, std::move(done)});
            since_waiter_ = seq + 1;
        }
        if (u == urgency::durable && !urgent_) wake = urgent_ = true;  // once per batch
    }
    if (wake) wake_.notify_one();
}

void sqlite_store::run_writer() {
    std::vector<job> jobs;
    std::vector<waiter> done;
    std::uint64_t failed_below = 0;   // one past the last vouched record of a failed batch
    std::uint64_t vouched_below = 0;  // one past the batch's last vouched record (0: none)
    for (;;) {
        {
            std::unique_lock lock{mutex_};
            // Lazy records wait for a durable one, or a second at most.
            wake_.wait_for(lock, std::chrono::seconds{1}, [&] { return stopping_ || urgent_; });
            if (jobs_.empty()) {
                if (stopping_) return;  // everything is written
                continue;
            }
            std::swap(jobs, jobs_);
            std::swap(done, done_);
            urgent_ = false;
            vouched_below = std::exchange(vouched_below_, 0);
            // The batch's own records leave the bound's count now (its session snapshots when
            // their jobs take them).
            jobs_bytes_ -= jobs_queued_bytes_;
            jobs_queued_bytes_ = 0;
            queued_bytes_.store(jobs_bytes_, std::memory_order_relaxed);
        }
        boost::system::error_code ec;
        {
            const std::lock_guard db_lock{db_mutex_};
            const auto started = std::chrono::steady_clock::now();
            ec = write_batch(jobs);
            const std::lock_guard stats_lock{stats_mutex_};
            write_seconds_.observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        }
        if (ec && vouched_below != 0) {
            failed_below = vouched_below;
            last_failure_ = ec;
        }
        // A waiter succeeds only when every job since the previous waiter's was committed: an
        // earlier batch holding its records may have failed while this one did not.
        for (auto& d : done)
            d.done(ec ? ec : d.since < failed_below ? last_failure_ : boost::system::error_code{});
        jobs.clear();
        done.clear();
    }
}

boost::system::error_code sqlite_store::write_batch(std::vector<job>& jobs) {
    batch_error_.clear();
    const auto changes_before = sqlite3_total_changes64(db_);
    if (const auto rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
        rc != SQLITE_OK) {
        batch_error_ = sqlite_error(rc);
    } else {
        for (auto& j : jobs) j();
        if (const auto now = std::chrono::steady_clock::now();
            now - purged_ >= std::chrono::minutes{1}) {
            purged_ = now;  // call records past their retention go, in the same transaction
            write("DELETE FROM calls WHERE created_ms < ?",
                  kit::unix_ms() - std::chrono::milliseconds{retention_}.count());
        }
        if (!batch_error_) {
            if (const auto commit = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
                commit != SQLITE_OK)
                batch_error_ = sqlite_error(commit);
        }
        // A failed statement or COMMIT leaves nothing of the batch: its waiters are told.
        if (batch_error_ && sqlite3_get_autocommit(db_) == 0)
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    // One line when writes start failing and one when they recover, the rest counted.
    if (batch_error_) {
        failed_batches_.fetch_add(1, std::memory_order_relaxed);
        if (!failing_)
            log_->error("event=store_write_failed reason={} detail={}",
                        kit::logfmt_value(batch_error_.message()),
                        kit::logfmt_value(error_text(db_)));
        failing_ = true;
    } else if (failing_ && sqlite3_total_changes64(db_) != changes_before) {
        // A batch that wrote something (an empty one commits even on a full disk).
        failing_ = false;
        log_->warn("event=store_recovered failed_batches={}",
                   failed_batches_.load(std::memory_order_relaxed));
    }
    return batch_error_;
}

}  // namespace rrpcd::store
