#include "kit/connection_limiter.hpp"

#include <algorithm>

namespace rrpcd::kit {

connection_limiter::verdict connection_limiter::admit(const boost::asio::ip::address& from) {
    const std::lock_guard lock{mutex_};
    if (open_ >= max_total_) return verdict::total;
    auto& count = per_address_[from];
    if (count >= max_per_address_) return verdict::per_address;  // count >= 1: the entry stays
    ++count;
    ++open_;
    return verdict::admitted;
}

void connection_limiter::authenticated(const boost::asio::ip::address& from) noexcept {
    const std::lock_guard lock{mutex_};
    forget_address(from);
}

void connection_limiter::forget_address(const boost::asio::ip::address& from) noexcept {
    const auto it = per_address_.find(from);
    if (it == per_address_.end()) return;
    if (--it->second == 0) per_address_.erase(it);
}

void connection_limiter::release(const boost::asio::ip::address& from,
                                 bool authenticated) noexcept {
    const std::lock_guard lock{mutex_};
    if (!authenticated) {
        if (!per_address_.contains(from)) return;  // never admitted
        forget_address(from);                      // its place at its address goes
    }
    --open_;
}

}  // namespace rrpcd::kit
