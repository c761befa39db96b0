#include "mqtt/errc.hpp"

#include <string>

namespace rrpcd::mqtt {
namespace {

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "mqtt"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::malformed_packet: return "malformed packet";
            case errc::protocol_error: return "protocol error";
            case errc::unsupported_protocol_version: return "unsupported protocol version";
            case errc::client_identifier_not_valid: return "client identifier not valid";
            case errc::bad_username_or_password: return "bad user name or password";
            case errc::not_authorized: return "not authorized";
            case errc::keep_alive_timeout: return "keep alive timeout";
            case errc::session_taken_over: return "session taken over";
            case errc::topic_filter_invalid: return "topic filter invalid";
            case errc::topic_name_invalid: return "topic name invalid";
            case errc::packet_too_large: return "packet too large";
            case errc::qos_not_supported: return "QoS not supported";
        }
        return "unknown mqtt error";
    }
};

}  // namespace

const boost::system::error_category& mqtt_category() noexcept {
    static const category instance;
    return instance;
}

}  // namespace rrpcd::mqtt
