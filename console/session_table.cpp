#include "console/session_table.hpp"

#include "kit/crypto.hpp"

#include <boost/algorithm/string/trim.hpp>

#include <algorithm>
#include <array>

namespace rrpcd::console {

namespace {

std::string hash_of(std::string_view token) {
    return kit::sha256(token);
}

}  // namespace

bool may_run(role r, std::string_view action) noexcept {
    // Named one by one: an action added later is an operator's until it is listed here. Not
    // QueryDevice, QueryDeviceByStatus or QueryDeviceDetail: their answers carry DeviceSecrets.
    static constexpr std::array<std::string_view, 8> read_only{
        "BatchGetDeviceState", "GetDeviceStatus", "GetThingModelTsl", "QueryDevicePropertyStatus",
        "QueryMessageInfo",    "QueryProduct",    "QueryProductList", "QueryThingModel"};
    return r == role::operator_ || std::ranges::find(read_only, action) != read_only.end();
}

session_table::opened session_table::open(signed_in_as who, clock::time_point now,
                                          std::int64_t now_ms) {
    while (!order_.empty() && sessions_.size() >= settings_->console.max_sessions) {
        sessions_.erase(order_.front());  // already gone (signed out, expired): nothing
        order_.pop_front();
    }
    // Past the cap the order may hold hashes of sessions already gone: it never grows past
    // twice the sessions it had.
    if (order_.size() > 2 * settings_->console.max_sessions)
        std::erase_if(order_, [&](const std::string& h) { return !sessions_.contains(h); });
    auto token = kit::to_hex(kit::random_bytes(32));
    auto hash = hash_of(token);
    const auto ttl = settings_->console.session_ttl;
    session s{std::move(who.access_key_id),
              std::move(who.user),
              who.role,
              kit::to_hex(kit::random_bytes(32)),
              now + ttl,
              now_ms + std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count()};
    order_.push_back(hash);
    const auto& kept = sessions_.insert_or_assign(std::move(hash), std::move(s)).first->second;
    return {std::move(token), kept};
}

const session* session_table::find(std::string_view token, clock::time_point now) {
    const auto it = sessions_.find(hash_of(token));
    if (it == sessions_.end()) return nullptr;
    if (it->second.expires <= now) {
        sessions_.erase(it);
        return nullptr;
    }
    return &it->second;
}

bool session_table::close(std::string_view token) {
    return sessions_.erase(hash_of(token)) != 0;
}

std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        const auto end = header.find(';');
        auto pair = header.substr(0, end);
        header = end == std::string_view::npos ? std::string_view{} : header.substr(end + 1);
        pair = boost::algorithm::trim_copy(pair);
        const auto eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    }
    return std::nullopt;
}

std::string session_cookie(std::string_view token, std::chrono::seconds max_age, bool secure) {
    return std::string{cookie_name} + "=" + std::string{token} +
           "; Path=/console; Max-Age=" + std::to_string(max_age.count()) +
           "; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "");
}

std::string cleared_cookie(bool secure) {
    return std::string{cookie_name} + "=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict" +
           (secure ? "; Secure" : "");
}

bool csrf_matches(const session& s, std::string_view header) noexcept {
    return !header.empty() && kit::constant_time_equal(s.csrf, header);
}

}  // namespace rrpcd::console
