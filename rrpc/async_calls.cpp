#include "rrpc/async_calls.hpp"
#include "kit/logfmt.hpp"
#include "kit/unix_ms.hpp"
#include "rrpc/topics.hpp"

#include "kit/base64.hpp"
#include "kit/printable.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/json.hpp>

#include <optional>

namespace rrpcd::rrpc {

namespace json = boost::json;

namespace {

/// The Alink `id` of a JSON document (a string, or a number as sent), if it has one.
std::optional<std::string> alink_id_of(const json::value* doc) {
    const auto* obj = doc != nullptr ? doc->if_object() : nullptr;
    const auto* id = obj != nullptr ? obj->if_contains("id") : nullptr;
    if (id == nullptr) return std::nullopt;
    if (id->is_string()) return std::string{id->as_string()};
    if (id->is_int64() || id->is_uint64()) return json::serialize(*id);
    return std::nullopt;
}

std::optional<std::string> alink_id_of(std::string_view payload) {
    boost::system::error_code ec;
    const auto doc = json::parse(payload, ec);
    return ec ? std::nullopt : alink_id_of(&doc);
}

std::string key_of(const catalog::device_key& d, std::string_view part) {
    std::string k = d.product_key;
    k += '\0';
    k += d.device_name;
    k += '\0';
    k += part;
    return k;
}

}  // namespace

async_calls::async_calls(device_gateway& gateway, call_log& log, reply_hub& hub,
                         const catalog::device_directory& devices,
                         std::shared_ptr<spdlog::logger> logger)
    : gateway_(gateway), log_(log), hub_(hub), devices_(devices), logger_(std::move(logger)) {}

async_calls::sent async_calls::send(std::uint64_t message_id, async_request request) {
    call_record record;
    record.message_id = message_id;
    record.kind = request.kind;
    record.device = request.device;
    record.topic = request.topic;
    record.request = request.payload;
    record.identifier = request.identifier;
    record.owner = request.owner;
    if (log_.async_full(record.owner, record.bytes())) return sent::too_many;
    // Queued first: a full queue refuses the call before anything of it is recorded. Its answer
    // cannot come before this returns (it is read on a later turn of the io thread).
    if (request.reliable && !gateway_.publish_reliably(request.device, message_id, request.topic,
                                                       request.payload, true))
        return sent::queue_full;
    log_.add(std::move(record));  // not refused: async_full() was checked above

    if (request.kind == call_kind::thing_async)
        by_alink_id_[key_of(request.device, request.alink_id)] = message_id;
    else
        remember_async_rrpc(request.device, request.topic, request.payload, message_id);
    if (waiting() >= sweep_at_) sweep();

    if (request.reliable) return sent::ok;  // published when its session takes it (on_sent)
    if (gateway_.publish(request.device, request.topic, request.payload, subscription_grace,
                         message_id)) {
        log_.published(message_id);
        return sent::ok;
    }
    log_.finish(message_id, call_state::offline);
    return sent::offline;
}

void async_calls::restore(const call_record& record) {
    if (record.state != call_state::pending) return;
    // A thing service's Alink id is its MessageId (see InvokeThingService).
    if (record.kind == call_kind::thing_async)
        by_alink_id_[key_of(record.device, std::to_string(record.message_id))] = record.message_id;
    else if (record.kind == call_kind::async_rrpc)
        remember_async_rrpc(record.device, record.topic, record.request, record.message_id);
}

bool async_calls::on_upstream(const catalog::device_key& from, std::string_view topic,
                              std::string_view payload) {
    // Parsed once here: the Alink id correlates, and the event forwards the same document.
    boost::system::error_code ec;
    const auto reply = json::parse(payload, ec);
    const auto* parsed = ec ? nullptr : &reply;
    if (is_thing_service_reply(topic)) {
        const auto* id =
            parsed && reply.is_object() ? reply.as_object().if_contains("id") : nullptr;
        if (id == nullptr || !id->is_string()) return false;
        const auto it = by_alink_id_.find(key_of(from, id->as_string()));
        if (it == by_alink_id_.end()) return false;
        const auto message_id = it->second;
        by_alink_id_.erase(it);
        answer(message_id, from, topic, payload);
        return true;
    }
    const std::string reply_topic{topic};
    const auto pending = [&](std::uint64_t id) { return log_.pending(id); };
    // An Alink answer names the request it answers: matched by its id, whatever the order (a
    // redelivered request answered after a newer one is not misattributed).
    if (const auto id = alink_id_of(parsed)) {
        if (const auto by_id = by_alink_id_.find(key_of(from, reply_topic + "#" + *id));
            by_id != by_alink_id_.end()) {
            const auto message_id = by_id->second;
            by_alink_id_.erase(by_id);
            if (pending(message_id)) {
                forget_delivery(from, reply_topic, message_id);
                answer(message_id, from, topic, payload);
                return true;
            }
        }
    }
    // Else the session's writes on this topic, in the order they were written: the oldest
    // unanswered write is what this answers. A write whose call was answered already (its
    // request was sent again before its PUBACK came) takes this duplicate answer, dropped.
    if (const auto dev = deliveries_.find(from); dev != deliveries_.end()) {
        if (const auto w = dev->second.find(reply_topic);
            w != dev->second.end() && !w->second.empty()) {
            const auto message_id = w->second.front();
            w->second.pop_front();
            if (w->second.empty()) dev->second.erase(w);
            if (!pending(message_id)) {
                ++duplicates_;
                logger_->debug("event=async_answer_duplicate message_id={} pk={} dn={} topic={}",
                               message_id, from.product_key, from.device_name,
                               kit::logfmt_value(topic));
                return true;
            }
            answer(message_id, from, topic, payload);
            return true;
        }
    }
    const auto it = by_topic_.find(key_of(from, topic));
    if (it == by_topic_.end()) return false;
    // Nothing written in this session waits on it: the oldest AsyncRRpc still pending on this
    // topic gets the answer (a request written to a session before this one).
    auto& ids = it->second;
    while (!ids.empty()) {
        const auto message_id = ids.front();
        ids.pop_front();
        --topic_ids_;
        if (!pending(message_id)) continue;
        if (ids.empty()) by_topic_.erase(it);
        answer(message_id, from, topic, payload);
        return true;
    }
    by_topic_.erase(it);
    return false;
}

void async_calls::delivered(const catalog::device_key& device, std::uint64_t message_id,
                            std::string_view topic) {
    // (Called while send() queues it, before its record is made: the topic says what it is.)
    const auto reply = reply_topic_of(topic);
    if (is_thing_service_reply(reply)) return;  // a thing service's answer names its Alink id
    deliveries_[device][reply].push_back(message_id);
}

void async_calls::forget_delivery(const catalog::device_key& device, const std::string& reply_topic,
                                  std::uint64_t message_id) {
    const auto dev = deliveries_.find(device);
    if (dev == deliveries_.end()) return;
    const auto w = dev->second.find(reply_topic);
    if (w == dev->second.end()) return;
    if (const auto at = std::ranges::find(w->second, message_id); at != w->second.end())
        w->second.erase(at);
    if (w->second.empty()) dev->second.erase(w);
}

void async_calls::remember_async_rrpc(const catalog::device_key& device, std::string_view topic,
                                      std::string_view payload, std::uint64_t message_id) {
    const auto reply_topic = reply_topic_of(topic);
    by_topic_[key_of(device, reply_topic)].push_back(message_id);
    ++topic_ids_;
    if (const auto id = alink_id_of(payload))
        by_alink_id_[key_of(device, reply_topic + "#" + *id)] = message_id;
}

async_reply async_calls::reply_of(const call_record& answered) const {
    async_reply r;
    r.message_id = answered.message_id;
    r.gmt_create_ms = kit::unix_ms(answered.finished);
    if (const auto dev = devices_.find(answered.device); dev != nullptr) r.iot_id = dev->iot_id;
    r.device = answered.device;
    boost::system::error_code ec;
    const auto parsed = json::parse(answered.reply, ec);
    const auto* alink = ec ? nullptr : parsed.if_object();
    const auto* alink_id = alink ? alink->if_contains("id") : nullptr;
    r.request_id = alink_id && alink_id->is_string() ? std::string{alink_id->as_string()}
                                                     : std::to_string(answered.message_id);
    if (const auto* code = alink ? alink->if_contains("code") : nullptr; code && code->is_int64())
        r.code = code->as_int64();
    if (const auto* m = alink ? alink->if_contains("message") : nullptr; m && m->is_string())
        r.message = m->as_string();
    r.topic = answered.reply_topic;
    if (alink != nullptr && alink->contains("data"))
        r.data = alink->at("data");
    else if (!ec)
        r.data = parsed;
    else
        r.data = json::object{};
    r.payload = answered.reply;
    return r;
}

void async_calls::answer(std::uint64_t message_id, const catalog::device_key& from,
                         std::string_view topic, std::string_view payload) {
    async_reply r;
    if (!log_.finish(message_id, call_state::replied, std::string{topic}, std::string{payload},
                     [&](const call_record& ended) { r = reply_of(ended); }))
        return;
    logger_->debug("event=async_reply message_id={} pk={} dn={} topic={}", message_id,
                   from.product_key, from.device_name, kit::logfmt_value(topic));
    gateway_.answered(from, message_id);  // its request, if still queued, is done
    hub_.publish(r);
}

void async_calls::sweep() {
    // Forget waiting entries whose calls ended or left the log.
    const auto ended = [this](std::uint64_t id) { return !log_.pending(id); };
    std::erase_if(by_alink_id_, [&](const auto& e) { return ended(e.second); });
    for (auto it = by_topic_.begin(); it != by_topic_.end();) {
        topic_ids_ -= std::erase_if(it->second, ended);
        it = it->second.empty() ? by_topic_.erase(it) : std::next(it);
    }
    sweep_at_ = std::max<std::size_t>(1024, waiting() * 2);
}

}  // namespace rrpcd::rrpc
