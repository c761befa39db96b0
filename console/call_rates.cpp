#include "console/call_rates.hpp"

namespace rrpcd::console {

void call_rates::sample(clock::time_point now, const outcome_counts& totals) {
    if (!started_) {
        started_ = true;
        last_ = totals;
        buckets_.push_back({now, {}});
        return;
    }
    // Empty buckets for the time nobody sampled, then this one's (at most `kept` of them).
    while (now >= buckets_.back().start + width) {
        const auto next = buckets_.back().start + width;
        const auto behind = (now - next) / width;
        buckets_.push_back({behind >= static_cast<long>(kept) ? now : next, {}});
        if (buckets_.size() > kept) buckets_.pop_front();
    }
    for (std::size_t i = 0; i < totals.size(); ++i) {
        buckets_.back().ended[i] += totals[i] >= last_[i] ? totals[i] - last_[i] : 0;
        last_[i] = totals[i];
    }
}

}  // namespace rrpcd::console
