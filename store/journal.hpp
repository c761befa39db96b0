#pragma once

#include "catalog/device_directory.hpp"
#include "catalog/device_key.hpp"
#include "catalog/property_values.hpp"
#include "rrpc/call_log.hpp"
#include "rrpc/kept_sessions.hpp"
#include "rrpc/outbox.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

namespace rrpcd::store {

/// Where accepted QoS 1 messages, products, devices and async call outcomes are kept across a
/// restart or a crash.
/// The records are written in the order they are made; sync() is the barrier an API answer
/// waits for. io thread only.
class journal {
public:
    virtual ~journal() = default;
    /// A QoS 1 message accepted for `device`, after every message accepted before it.
    virtual void message_accepted(const catalog::device_key& device,
                                  const rrpc::queued_message& message) = 0;
    /// The message is done with: acknowledged, delivered at QoS 0, or pushed out of a full queue.
    virtual void message_done(const catalog::device_key& device, std::uint64_t message_id) = 0;
    /// `lazy`: it may wait for the next durable write or a periodic flush (about a second);
    /// losing it in a crash costs little (a device's first login time, say).
    enum class urgency : std::uint8_t { durable, lazy };
    /// A device was registered or changed (disabled, first online…).
    virtual void device_saved(const catalog::device_record& device,
                              urgency u = urgency::durable) = 0;
    virtual void device_deleted(const catalog::device_key& device) = 0;
    virtual void product_saved(const catalog::product_record& product) = 0;
    /// An async call was accepted or ended (its lookup outlives a restart).
    virtual void call_saved(const rrpc::call_record& record) = 0;
    /// A clean=0 session's subscriptions changed, or its device left (`last_seen_ms`).
    virtual void session_saved(const catalog::device_key& device, const rrpc::kept_session& s,
                               urgency u) = 0;
    /// A clean=1 login discarded the device's session, or it expired.
    virtual void session_deleted(const catalog::device_key& device) = 0;
    /// A message a delivery queue is to deliver: a webhook's reply (`queue` its identity) or a
    /// consumer group's event (`amqp:{group}`); done when delivered, given up, expired or
    /// dropped. Kept so that a restart loses none.
    virtual void delivery_queued(std::string_view queue, std::uint64_t message_id,
                                 std::int64_t queued_ms, std::string_view body) = 0;
    virtual void delivery_done(std::string_view queue, std::uint64_t message_id) = 0;
    /// A device's latest property values (a property post answered 200); lazy. They go with
    /// device_deleted().
    virtual void properties_saved(const catalog::device_key& device,
                                  const std::vector<catalog::property_value>& values) {
        (void)device;
        (void)values;
    }
    /// Every MessageId issued so far, and any issued in the next seconds, is below `floor`
    /// (written at start, then lazily each second: a restart resumes above it, whatever its
    /// clock says).
    virtual void id_floor_saved(std::uint64_t floor, urgency u) {
        (void)floor;
        (void)u;
    }
    /// Resumes once everything recorded so far is on disk, or with why it could not be written
    /// (then none of the records since the last good sync may be; the caller answers an error).
    virtual boost::asio::awaitable<boost::system::error_code> sync() = 0;
    /// True while what waits for the writer is past its bound (store.max_queue_bytes): the
    /// callers refuse what an outsider asks to keep until it drains. Records are still taken
    /// (the bound is checked where a request is admitted, not here).
    virtual bool busy() const noexcept { return false; }
};

/// No store configured: messages live in memory only. (Tests derive from it to record or fail
/// what they look at.)
class memory_journal : public journal {
public:
    void message_accepted(const catalog::device_key&, const rrpc::queued_message&) override {}
    void message_done(const catalog::device_key&, std::uint64_t) override {}
    void device_saved(const catalog::device_record&, urgency) override {}
    void device_deleted(const catalog::device_key&) override {}
    void product_saved(const catalog::product_record&) override {}
    void call_saved(const rrpc::call_record&) override {}
    void session_saved(const catalog::device_key&, const rrpc::kept_session&, urgency) override {}
    void session_deleted(const catalog::device_key&) override {}
    void delivery_queued(std::string_view, std::uint64_t, std::int64_t, std::string_view) override {
    }
    void delivery_done(std::string_view, std::uint64_t) override {}
    boost::asio::awaitable<boost::system::error_code> sync() override {
        co_return boost::system::error_code{};
    }
};

}  // namespace rrpcd::store
