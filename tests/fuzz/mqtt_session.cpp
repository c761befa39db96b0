// libFuzzer target: the whole MQTT session of the real server. The input (after its first byte,
// which picks how it is split into writes) goes over a loopback connection to the node's MQTT
// listener, with the server's own limits: the login of the demo device, subscriptions, publishes
// on every kind of topic (RRPC answers, Alink replies, data), acks, and whatever follows. Any
// input must end in a closed connection, never in a crash, an exception that escapes the
// io_context, a leak or undefined behaviour.
#include "tests/fuzz/session_world.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static rrpcd::fuzz::session_world world;
    if (size == 0) return 0;
    const std::size_t piece = 1 + std::size_t{data[0]} % 64;
    world.exchange(world.mqtt_port(), {data + 1, size - 1}, piece);
    return 0;
}
