// libFuzzer target: the whole HTTP session of the real server. The input (after its first byte,
// which picks how it is split into writes) goes over a loopback connection to the node's HTTP
// listener, with the server's own parser settings and limits: pipelined requests, chunked bodies
// and trailers, the probes, the metrics, the reply stream, the console and every action. Any
// input must end in answers and a closed connection, never in a crash, an exception that escapes
// the io_context, a leak or undefined behaviour.
#include "tests/fuzz/session_world.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static rrpcd::fuzz::session_world world;
    if (size == 0) return 0;
    const std::size_t piece = 1 + std::size_t{data[0]} * 64;
    world.exchange(world.http_port(), {data + 1, size - 1}, piece);
    return 0;
}
