#pragma once

#include "catalog/device_key.hpp"
#include "rrpc/rrpc_code.hpp"

#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace rrpcd::rrpc {

/// One call waiting for its device. It lives in the frame of the coroutine that waits on
/// `timer`; resolving it stores the outcome and cancels the timer, which wakes the waiter.
struct pending_call {
    catalog::device_key device;
    std::string reply_topic;  ///< the only topic its answer may come on
    boost::asio::steady_timer timer;
    std::optional<rrpc_code> outcome{};
    std::string reply{};  ///< the device's bytes, with outcome success
};

/// The correlation table: MessageId -> pending call, indexed by device too so that a session
/// ending resolves that device's calls at once. Each call resolves exactly once; the waiter
/// erases it. io thread only; no locks.
class pending_table {
public:
    /// What became of a device's reply.
    enum class reply_status : std::uint8_t {
        resolved,   ///< it answered a pending call
        unknown,    ///< no such pending call: late (already timed out) or never sent
        foreign,    ///< the call exists but belongs to another device, or the topic differs
        duplicate,  ///< the call was already resolved and not yet erased
    };

    /// Registers `call` under `id` (ids are unique). `call` must outlive its entry.
    void insert(std::uint64_t id, pending_call& call);
    /// Removes the entry, if present.
    void erase(std::uint64_t id) noexcept;

    /// Resolves the call `id` with SUCCESS if `from` is its device and `topic` its reply topic.
    reply_status resolve_reply(const catalog::device_key& from, std::string_view topic,
                               std::uint64_t id, std::string payload);
    /// Resolves every unresolved call of `device` with `outcome`; returns how many.
    std::size_t resolve_device(const catalog::device_key& device, rrpc_code outcome);

    /// Resolves every unresolved call with `outcome` (shutdown); returns how many.
    std::size_t resolve_all(rrpc_code outcome);

    std::size_t size() const noexcept { return calls_.size(); }
    /// Pending calls addressed to `device`.
    std::size_t pending_for(const catalog::device_key& device) const noexcept;

private:
    static void resolve(pending_call& call, rrpc_code outcome);

    std::unordered_map<std::uint64_t, pending_call*> calls_;
    std::unordered_map<catalog::device_key, std::unordered_set<std::uint64_t>,
                       catalog::device_key_hash>
        by_device_;
};

}  // namespace rrpcd::rrpc
