#pragma once

#include "catalog/device_key.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace rrpcd::rrpc {

/// A device's answer to an async call, with what the cloud's forwarding format carries
/// (http::forwarding_json renders it).
struct async_reply {
    std::uint64_t message_id = 0;
    std::int64_t gmt_create_ms = 0;  ///< when the answer came (Unix ms)
    std::string iot_id;
    catalog::device_key device;
    std::string request_id;  ///< the Alink `id`, or the MessageId when the answer has none
    std::int64_t code = 200;
    std::string message = "success";
    std::string topic;        ///< where the answer came
    boost::json::value data;  ///< the Alink `data`, the whole JSON answer, or {}
    std::string payload;      ///< the raw bytes of the answer
    /// Cluster mode: answered on another node, told here for this node's reply streams only
    /// (the webhooks and consumer groups of the node that matched it deliver it, once).
    bool elsewhere = false;
};

/// Fans each async reply out to the backend channels (webhooks, SSE streams). Any thread: each
/// subscriber is called on its own executor (at once when publish() runs there already), never
/// after unsubscribe() returned on that executor; subscribers must not block.
class reply_hub {
public:
    using subscriber = std::function<void(const async_reply& reply)>;

    /// Returns a token for unsubscribe(); `s` runs on `where`.
    std::uint64_t subscribe(boost::asio::any_io_executor where, subscriber s);
    void unsubscribe(std::uint64_t token);
    void publish(const async_reply& reply);
    std::size_t subscribers() const;

private:
    struct entry {
        boost::asio::any_io_executor where;
        std::shared_ptr<const subscriber> call;  ///< the hub's reference; handlers hold weak ones
    };
    mutable std::mutex mutex_;
    std::uint64_t next_ = 1;
    std::map<std::uint64_t, entry> subscribers_;
};

}  // namespace rrpcd::rrpc
