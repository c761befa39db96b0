// libFuzzer target: a device's byte stream through the frame reader, the decoder and the server
// protocol state machine, fed in pieces the way sockets deliver it. Any input must end in events
// and bytes to send, never in a crash, a leak or undefined behaviour.
#include "mqtt/codec.hpp"
#include "mqtt/server_protocol.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::size_t max_packet = 4096;
    const std::span<const std::uint8_t> in{data, size};

    // The codec alone: every frame the reader accepts goes to the decoder.
    for (std::size_t offset = 0; offset < in.size();) {
        const auto frame = rrpcd::mqtt::read_frame(in.subspan(offset), max_packet);
        if (frame.status != rrpcd::mqtt::frame_result::status::complete) break;
        (void)rrpcd::mqtt::decode(frame.header, frame.body);
        offset += frame.size;
    }

    // The protocol: the first byte picks the piece size, a CONNECT is accepted when it comes.
    if (in.empty()) return 0;
    const std::size_t piece = 1 + in[0] % 64;
    const auto now = rrpcd::mqtt::server_protocol::clock::now();
    rrpcd::mqtt::server_protocol protocol{max_packet, now};
    std::vector<rrpcd::mqtt::protocol_event> events;
    std::vector<std::uint8_t> out, pending;
    for (std::size_t offset = 1; offset < in.size(); offset += piece) {
        const auto chunk = in.subspan(offset, std::min(piece, in.size() - offset));
        pending.insert(pending.end(), chunk.begin(), chunk.end());
        for (;;) {
            const auto consumed = protocol.feed(pending, now, events, out);
            pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(consumed));
            bool progressed = consumed != 0;
            for (const auto& e : events)
                if (std::holds_alternative<rrpcd::mqtt::event::connect_request>(e)) {
                    protocol.accept(false, out);
                    progressed = true;
                }
            events.clear();
            if (!progressed ||
                protocol.current_state() == rrpcd::mqtt::server_protocol::state::closed)
                break;
        }
        if (protocol.current_state() == rrpcd::mqtt::server_protocol::state::closed) break;
    }
    return 0;
}
