#pragma once

#include "config/settings.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/container_hash/hash.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace rrpcd::catalog {

/// Failed device logins per source address and username: after `failures` in a row, that
/// login from that address is refused unchecked for 1 s, then 2 s, 4 s… up to `max_delay`; a
/// successful one clears it. Keyed by username too, so one misconfigured device behind a NAT
/// does not lock out its neighbours. Memory is bounded and a failure costs O(1) even at
/// capacity: the pairs are kept in the order of their latest failure, and a new pair at
/// capacity takes the place of the least recent of the few oldest that is not blocked (or of the
/// oldest when all of those are), so new pairs are always tracked. One table for the whole
/// process, whichever thread asks (a lock held for a lookup or an update, never across I/O).
class login_backoff {
public:
    using clock = std::chrono::steady_clock;
    /// A source address and the name it logs in with (as sent: `deviceName&productKey`, empty
    /// when absent; the console's `console <AccessKeyId>`). The name is kept as a 16-byte digest
    /// (SHA-256, truncated), whatever its length: a pair costs the same for a 65 KB name.
    struct who {
        who(const boost::asio::ip::address& from, std::string_view name);
        boost::asio::ip::address address;
        std::array<unsigned char, 16> name{};
        bool operator==(const who&) const = default;
    };

    /// Tracks at most `settings.max_entries` pairs (the size is fixed at start).
    explicit login_backoff(const config::login_backoff_settings& settings)
        : settings_(settings), capacity_(settings.max_entries) {}

    /// A reload: `failures` and `max_delay` apply to the next failure.
    void set_settings(const config::login_backoff_settings& settings) {
        const std::lock_guard lock{mutex_};
        settings_ = settings;
    }

    bool blocked(const who& w, clock::time_point now) const;
    void failed(const who& w, clock::time_point now);
    void succeeded(const who& w);

    std::size_t tracked() const {
        const std::lock_guard lock{mutex_};
        return entries_.size();
    }
    /// Pairs forgotten to make room for new ones, since start.
    std::uint64_t evicted() const {
        const std::lock_guard lock{mutex_};
        return evicted_;
    }

private:
    struct who_hash {
        std::size_t operator()(const who& w) const noexcept {
            auto h = std::hash<boost::asio::ip::address>{}(w.address);
            boost::hash_combine(h, boost::hash_range(w.name.begin(), w.name.end()));
            return h;
        }
    };

    struct entry {
        std::uint32_t failures = 0;
        clock::time_point until{};       ///< blocked before this
        clock::time_point last{};        ///< the latest failure
        std::list<who>::iterator place;  ///< in `recent_`
    };
    /// Makes room for one more pair, looking at no more than a few of the least recent.
    void evict_one(clock::time_point now);

    mutable std::mutex mutex_;
    config::login_backoff_settings settings_;
    std::size_t capacity_;
    std::uint64_t evicted_ = 0;
    std::unordered_map<who, entry, who_hash> entries_;
    std::list<who> recent_;  ///< least recently failed first
};

}  // namespace rrpcd::catalog
