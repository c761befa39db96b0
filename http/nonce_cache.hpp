#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <string_view>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

namespace rrpcd::http {

/// Remembers signature nonces for the replay window, in bounded memory. Past `capacity` the
/// entry signed earliest is forgotten and its access key's floor rises to its timestamp: a
/// request of that key signed at or before its floor is refused as expired, so a forgotten nonce
/// can never be replayed. Evicting by signing time (not arrival) and keeping a floor per key
/// means a request signed in the future is the last to go, and a flood of one key cannot raise
/// another key's floor above the time its own old requests were signed. io thread only.
class nonce_cache {
public:
    using clock = std::chrono::system_clock;
    nonce_cache(std::chrono::seconds window, std::size_t capacity)
        : window_(window), capacity_(capacity) {}

    enum class verdict : std::uint8_t { fresh, replayed, expired };

    /// Checks `nonce` (per access key) signed at `signed_at`, remembering it when fresh.
    verdict check(std::string_view access_key_id, std::string_view nonce,
                  clock::time_point signed_at, clock::time_point now);

    std::size_t size() const noexcept { return seen_.size(); }
    /// Nonces forgotten before their window ended (the cache was full), since start.
    std::uint64_t forgotten() const noexcept { return forgotten_; }

private:
    struct entry {
        clock::time_point signed_at;
        std::uint64_t hash;  ///< of (key, nonce)
        std::uint64_t key;   ///< hash of the access key id
        std::uint64_t seq;   ///< arrival order: of two signed in one second, the first goes first
        bool operator>(const entry& o) const noexcept {
            return signed_at != o.signed_at ? signed_at > o.signed_at : seq > o.seq;
        }
    };
    /// Forgets the entry signed earliest.
    void forget_earliest();

    std::chrono::seconds window_;
    std::size_t capacity_;
    std::uint64_t forgotten_ = 0;
    std::uint64_t arrivals_ = 0;
    boost::unordered_flat_set<std::uint64_t> seen_;  ///< open addressing: no node per nonce
    /// A min-heap by signing time, for expiry and eviction.
    std::priority_queue<entry, std::vector<entry>, std::greater<>> by_time_;
    /// Per access key (authenticated, so as many as there are keys): the latest forgotten
    /// signing time.
    boost::unordered_flat_map<std::uint64_t, clock::time_point> floors_;
};

}  // namespace rrpcd::http
