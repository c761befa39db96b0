#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace rrpcd::rrpc {

/// Fans each async reply out to the backend channels (webhooks, SSE streams). A reply is the
/// cloud's forwarding JSON `{gmtCreate, iotId, productKey, deviceName, requestId, code, message,
/// topic, data}` plus `MessageId`, serialised once. Subscribers must not block. io thread only.
class reply_hub {
public:
    using subscriber = std::function<void(std::uint64_t message_id, const std::string& json)>;

    /// Returns a token for unsubscribe().
    std::uint64_t subscribe(subscriber s);
    void unsubscribe(std::uint64_t token);
    void publish(std::uint64_t message_id, const std::string& json);
    std::size_t subscribers() const noexcept { return subscribers_.size(); }

private:
    std::uint64_t next_ = 1;
    std::map<std::uint64_t, subscriber> subscribers_;
};

}  // namespace rrpcd::rrpc
