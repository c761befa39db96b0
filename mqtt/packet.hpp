#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace rrpcd::mqtt {

/// Protocol level byte of CONNECT [MQTT-3.1.2-2]. Only 3.1.1 is served.
enum class protocol_version : std::uint8_t { v3_1_1 = 4 };

/// Quality of service. rrpcd, like the cloud, serves 0 and 1; 2 is decoded only to be refused.
enum class qos : std::uint8_t { at_most_once = 0, at_least_once = 1, exactly_once = 2 };

/// CONNACK return codes of MQTT 3.1.1 [MQTT-3.2.2.3].
enum class connect_return_code : std::uint8_t {
    accepted = 0,
    unacceptable_protocol_version = 1,
    identifier_rejected = 2,
    server_unavailable = 3,
    bad_username_or_password = 4,
    not_authorized = 5,
};

/// Fixed-header packet types [MQTT-2.2.1].
enum class packet_type : std::uint8_t {
    connect = 1,
    connack = 2,
    publish = 3,
    puback = 4,
    pubrec = 5,
    pubrel = 6,
    pubcomp = 7,
    subscribe = 8,
    suback = 9,
    unsubscribe = 10,
    unsuback = 11,
    pingreq = 12,
    pingresp = 13,
    disconnect = 14,
};

struct will_message {
    std::string topic;
    std::string payload;  ///< binary
    mqtt::qos qos = qos::at_most_once;
    bool retain = false;
};

struct connect {
    std::string protocol_name = "MQTT";
    std::uint8_t level = 4;
    bool clean_session = true;
    std::uint16_t keep_alive = 0;  ///< seconds
    std::string client_id;
    std::optional<will_message> will;
    std::optional<std::string> username;
    std::optional<std::string> password;  ///< binary; never log it
};

struct connack {
    bool session_present = false;
    connect_return_code code = connect_return_code::accepted;
};

struct publish {
    bool dup = false;
    mqtt::qos qos = qos::at_most_once;
    bool retain = false;
    std::string topic;
    std::uint16_t packet_id = 0;  ///< 0 when qos is 0
    std::string payload;          ///< binary
};

struct puback {
    std::uint16_t packet_id = 0;
};

struct subscription {
    std::string filter;
    mqtt::qos qos = qos::at_most_once;
};

struct subscribe {
    std::uint16_t packet_id = 0;
    std::vector<subscription> subscriptions;
};

/// SUBACK return code for a refused filter [MQTT-3.9.3].
constexpr std::uint8_t suback_failure = 0x80;

struct suback {
    std::uint16_t packet_id = 0;
    std::vector<std::uint8_t> return_codes;  ///< granted QoS or `suback_failure`
};

struct unsubscribe {
    std::uint16_t packet_id = 0;
    std::vector<std::string> filters;
};

struct unsuback {
    std::uint16_t packet_id = 0;
};

struct pingreq {};
struct pingresp {};
struct disconnect {};

/// Every packet a 3.1.1 server receives or sends (QoS 2 flows are not served).
using packet = std::variant<connect, connack, publish, puback, subscribe, suback, unsubscribe,
                            unsuback, pingreq, pingresp, disconnect>;

}  // namespace rrpcd::mqtt
