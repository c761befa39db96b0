#include "server/device_registry.hpp"

#include "server/mqtt_session.hpp"

namespace rrpcd::server {

mqtt_session* device_registry::attach(const rrpc::device_key& device, mqtt_session& session) {
    auto& e = devices_[device];
    auto* previous = e.session;
    if (previous == nullptr) ++online_;
    e.session = &session;
    return previous;
}

bool device_registry::detach(const rrpc::device_key& device, const mqtt_session& session,
                             rrpc::presence::state how) {
    const auto it = devices_.find(device);
    if (it == devices_.end() || it->second.session != &session) return false;
    it->second.session = nullptr;
    it->second.last = rrpc::presence{how, rrpc::presence::clock::now(), session.keep_alive()};
    --online_;
    return true;
}

rrpc::presence device_registry::presence_of(const rrpc::device_key& device) const {
    const auto it = devices_.find(device);
    if (it == devices_.end()) return {};
    if (const auto* s = it->second.session)
        return rrpc::presence{rrpc::presence::state::connected, s->last_activity(),
                              s->keep_alive()};
    return it->second.last;
}

bool device_registry::publish(const rrpc::device_key& device, std::string_view topic,
                              std::string_view payload) {
    const auto it = devices_.find(device);
    if (it == devices_.end() || it->second.session == nullptr) return false;
    return it->second.session->deliver(topic, payload, mqtt::qos::at_most_once);
}

}  // namespace rrpcd::server
