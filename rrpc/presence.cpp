#include "rrpc/presence.hpp"

namespace rrpcd::rrpc {

liveness classify(const presence& p, presence::clock::time_point now) noexcept {
    switch (p.link) {
        case presence::state::connected:
            return p.keep_alive.count() > 0 && now - p.since > p.keep_alive
                       ? liveness::half_connected
                       : liveness::online;
        case presence::state::lost:
            return now - p.since < p.keep_alive ? liveness::half_connected : liveness::offline;
        case presence::state::never:
        case presence::state::left_cleanly: break;
    }
    return liveness::offline;
}

}  // namespace rrpcd::rrpc
