#pragma once

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace rrpcd::kit {

/// Open connections of one protocol, in total and per source address: one count for the
/// whole process, whichever thread accepts or ends a connection (a lock held for a map
/// update, never across I/O). set_limits() (a reload) applies to the next connection.
class connection_limiter {
public:
    enum class verdict : std::uint8_t { admitted, total, per_address };

    connection_limiter(std::size_t max_total, std::size_t max_per_address)
        : max_total_(max_total), max_per_address_(max_per_address) {}

    void set_limits(std::size_t max_total, std::size_t max_per_address) {
        const std::lock_guard lock{mutex_};
        max_total_ = max_total;
        max_per_address_ = max_per_address;
    }

    /// Counts the connection in when both limits allow it.
    verdict admit(const boost::asio::ip::address& from);
    /// The connection proved who it is (a device logged in): it no longer counts towards its
    /// address's limit, which bounds the connections that have not (so a fleet behind one NAT
    /// is not locked out by silent sockets from the same address); it still counts in total.
    void authenticated(const boost::asio::ip::address& from) noexcept;
    /// The end of an admitted connection (`authenticated`: it was told so before).
    void release(const boost::asio::ip::address& from, bool authenticated = false) noexcept;

    std::size_t open() const {
        const std::lock_guard lock{mutex_};
        return open_;
    }

private:
    void forget_address(const boost::asio::ip::address& from) noexcept;

    mutable std::mutex mutex_;
    std::size_t max_total_;
    std::size_t max_per_address_;
    std::size_t open_ = 0;
    std::unordered_map<boost::asio::ip::address, std::uint32_t> per_address_;
};

/// An admitted connection's place, given back when the session ends.
class connection_slot {
public:
    connection_slot(connection_limiter& limiter, boost::asio::ip::address from)
        : limiter_(&limiter), from_(from) {}
    connection_slot(connection_slot&& other) noexcept
        : limiter_(std::exchange(other.limiter_, nullptr)),
          from_(other.from_),
          authenticated_(other.authenticated_) {}
    connection_slot& operator=(connection_slot&&) = delete;
    ~connection_slot() {
        if (limiter_ != nullptr) limiter_->release(from_, authenticated_);
    }
    /// See connection_limiter::authenticated (once).
    void authenticated() noexcept {
        if (limiter_ == nullptr || authenticated_) return;
        limiter_->authenticated(from_);
        authenticated_ = true;
    }

private:
    connection_limiter* limiter_;
    boost::asio::ip::address from_;
    bool authenticated_ = false;
};

}  // namespace rrpcd::kit
