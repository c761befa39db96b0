#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string_view>

#include <boost/unordered/unordered_flat_set.hpp>

namespace rrpcd::http {

/// Remembers signature nonces for the replay window, in bounded memory. Past `capacity` the
/// oldest entries are forgotten and every request signed at or before the newest forgotten
/// timestamp is refused as expired, so a forgotten nonce can never be replayed.
/// io thread only.
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

private:
    struct entry {
        std::uint64_t hash;
        clock::time_point signed_at;
    };

    std::chrono::seconds window_;
    std::size_t capacity_;
    boost::unordered_flat_set<std::uint64_t> seen_;  ///< open addressing: no node per nonce
    std::deque<entry> order_;                        ///< arrival order, for expiry and eviction
    clock::time_point floor_{};
};

}  // namespace rrpcd::http
