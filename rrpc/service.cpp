#include "rrpc/service.hpp"
#include "kit/logfmt.hpp"
#include "kit/use_nothrow.hpp"

#include "kit/printable.hpp"
#include "rrpc/topics.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rrpcd::rrpc {

namespace asio = boost::asio;

namespace {

rrpc_code code_for(liveness l) noexcept {
    return l == liveness::half_connected ? rrpc_code::halfconn : rrpc_code::offline;
}

/// Erases a call's entry, and its request if still held for a subscription, on every way out
/// of `service::call`.
struct erase_on_exit {
    pending_table& table;
    device_gateway& gateway;
    const catalog::device_key& device;
    std::uint64_t id;
    ~erase_on_exit() {
        table.erase(id);
        gateway.drop_held(device, id);
    }
};

}  // namespace

service::service(device_gateway& gateway, message_id_generator& ids, call_log& calls,
                 std::shared_ptr<spdlog::logger> log)
    : gateway_(gateway), ids_(ids), calls_(calls), log_(std::move(log)) {}

std::uint64_t service::next_id() {
    return ids_.next(std::chrono::system_clock::now());
}

asio::awaitable<call_result> service::call(call_request request) {
    ++stats_.calls;
    call_result result;
    result.message_id = request.message_id != 0 ? request.message_id : next_id();
    const bool custom = !request.topic.empty();
    const auto topic = custom ? custom_rrpc_topic(result.message_id, request.topic)
                              : request_topic(request.device, result.message_id);
    call_record record;
    record.message_id = result.message_id;
    record.kind = request.kind;
    record.device = request.device;
    record.topic = topic;
    record.request = request.payload;
    record.identifier = request.identifier;
    calls_.add(std::move(record));

    const auto now = presence::clock::now();
    if (const auto l = classify(gateway_.presence_of(request.device), now); l != liveness::online) {
        result.code = code_for(l);
        finish(result, {});
        co_return result;
    }

    // No co_await inside an expression that builds temporaries: GCC 12 destroys them twice.
    const auto executor = co_await asio::this_coro::executor;
    auto reply_topic = custom ? topic : response_topic(request.device, result.message_id);
    pending_call call{request.device, std::move(reply_topic),
                      asio::steady_timer{executor, now + request.timeout}};
    table_.insert(result.message_id, call);
    const erase_on_exit guard{table_, gateway_, request.device, result.message_id};

    if (gateway_.publish(request.device, topic, request.payload, request.timeout,
                         result.message_id))
        calls_.published(result.message_id);
    else
        log_->debug("event=rrpc_undelivered message_id={} reason=no_session", result.message_id);
    co_await call.timer.async_wait(kit::use_nothrow);

    result.code = call.outcome.value_or(rrpc_code::timeout);
    if (result.code == rrpc_code::success) result.payload = std::move(call.reply);
    finish(result, call.reply_topic);
    co_return result;
}

void service::finish(const call_result& result, std::string reply_topic) {
    count(result.code);
    const auto state = result.code == rrpc_code::success    ? call_state::replied
                       : result.code == rrpc_code::timeout  ? call_state::timeout
                       : result.code == rrpc_code::offline  ? call_state::offline
                       : result.code == rrpc_code::halfconn ? call_state::halfconn
                                                            : call_state::unknown;
    const bool replied = state == call_state::replied;
    calls_.finish(result.message_id, state, replied ? std::move(reply_topic) : std::string{},
                  replied ? result.payload : std::string{});
}

void service::on_reply(const catalog::device_key& from, std::string_view topic,
                       std::uint64_t message_id, std::string payload) {
    const auto status = table_.resolve_reply(from, topic, message_id, std::move(payload));
    if (status == pending_table::reply_status::resolved) return;
    ++stats_.dropped_replies;
    log_->debug("event=rrpc_reply_dropped pk={} dn={} topic={} status={}", from.product_key,
                from.device_name, kit::logfmt_value(topic), static_cast<int>(status));
}

void service::on_session_end(const catalog::device_key& device, const presence& after) {
    const auto outcome = code_for(classify(after, presence::clock::now()));
    if (const auto n = table_.resolve_device(device, outcome); n != 0)
        log_->debug("event=rrpc_device_lost pk={} dn={} resolved={} code={}", device.product_key,
                    device.device_name, n, to_string(outcome));
}

void service::count(rrpc_code code) noexcept {
    switch (code) {
        case rrpc_code::success: ++stats_.success; break;
        case rrpc_code::timeout: ++stats_.timeout; break;
        case rrpc_code::offline: ++stats_.offline; break;
        case rrpc_code::halfconn: ++stats_.halfconn; break;
        case rrpc_code::unknown: break;
    }
}

}  // namespace rrpcd::rrpc
