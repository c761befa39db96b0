#include "cluster/envelope.hpp"
#include "rrpc/message_id.hpp"

#include <catch2/catch.hpp>

using namespace rrpcd;
using namespace rrpcd::cluster;

namespace {

outcome_envelope outcome(std::uint64_t ticket, rrpc::rrpc_code code, std::string payload) {
    outcome_envelope o;
    o.ticket = ticket;
    o.code = code;
    o.payload = std::move(payload);
    return o;
}

std::vector<envelope> samples() {
    return {call_envelope{.origin = 7,
                          .ticket = 0x0102030405060708ULL,
                          .device = {"a1PK", "dev-1"},
                          .topic = "/a1PK/dev-1/user/get",
                          .payload = std::string("\0\1\2binary\xff", 10),
                          .timeout_ms = 5000,
                          .kind = rrpc::call_kind::thing_sync,
                          .identifier = "Echo",
                          .message_id = 0x1fffffffffffffULL,
                          .max_pending = 64},
            outcome_envelope{.ticket = 42,
                             .code = rrpc::rrpc_code::halfconn,
                             .message_id = 99,
                             .waiting = 3,
                             .payload = std::string(200 * 1024, 'x')},
            kick_envelope{.device = {"a1PK", "dev-2"}, .session = 12345, .forget = true},
            send_envelope{.origin = 3,
                          .ticket = 9,
                          .message_id = 77,
                          .publish = false,
                          .reliable = true,
                          .kind = rrpc::call_kind::thing_async,
                          .device = {"a1PK", "dev-3"},
                          .topic = "/sys/a1PK/dev-3/thing/service/Echo",
                          .payload = R"({"id":"77"})",
                          .identifier = "Echo",
                          .alink_id = "77",
                          .owner = "LTAIkey"},
            send_envelope{.origin = 4,
                          .ticket = 10,
                          .message_id = 78,
                          .publish = true,
                          .reliable = false,
                          .kind = rrpc::call_kind::async_rrpc,
                          .device = {"a1PK", "dev-3"},
                          .topic = "/a1PK/dev-3/user/get",
                          .payload = "x",
                          .identifier = {},
                          .alink_id = {},
                          .owner = {}}};
}

}  // namespace

TEST_CASE("cluster envelopes: each kind decodes to what was encoded") {
    for (const auto& e : samples()) {
        const auto bytes = encode(e);
        const auto back = decode(bytes);
        REQUIRE(back.has_value());
        CHECK(*back == e);
    }
    // Empty texts and payloads too.
    const envelope empty = call_envelope{};
    CHECK(decode(encode(empty)) == empty);
}

TEST_CASE("cluster envelopes: every truncation and any trailing byte is refused") {
    for (const auto& e : samples()) {
        auto bytes = encode(e);
        if (bytes.size() > 4096) bytes = encode(outcome(1, rrpc::rrpc_code::success, "abc"));
        for (std::size_t n = 0; n < bytes.size(); ++n) {
            INFO("cut at " << n << " of " << bytes.size());
            CHECK_FALSE(decode(std::string_view{bytes}.substr(0, n)).has_value());
        }
        CHECK_FALSE(decode(bytes + '\0').has_value());
    }
}

TEST_CASE("cluster envelopes: another version, an unknown kind, code or call kind is refused") {
    auto call = encode(samples()[0]);
    auto other_version = call;
    other_version[0] = 2;
    CHECK_FALSE(decode(other_version).has_value());
    auto unknown_kind = call;
    unknown_kind[1] = 9;
    CHECK_FALSE(decode(unknown_kind).has_value());

    auto answered = encode(outcome(1, rrpc::rrpc_code::success, ""));
    answered[2 + 8] = 5;  // past UNKNOWN
    CHECK_FALSE(decode(answered).has_value());

    auto kick = encode(kick_envelope{.device = {"p", "d"}, .session = 1, .forget = false});
    kick.back() = 2;  // forget is 0 or 1
    CHECK_FALSE(decode(kick).has_value());

    auto sending = encode(samples()[3]);
    sending[2 + 4 + 8 + 8] = 4;  // flags: publish 1, reliable 2
    CHECK_FALSE(decode(sending).has_value());
    sending = encode(samples()[3]);
    sending[2 + 4 + 8 + 8 + 1] = 4;  // past thing_async
    CHECK_FALSE(decode(sending).has_value());

    // The call kind sits after origin, ticket, device, topic, payload and timeout.
    call_envelope c;
    c.device = {"p", "d"};
    auto bytes = encode(c);
    const std::size_t kind_at = 2 + 4 + 8 + (2 + 1) + (2 + 1) + 2 + 4 + 4;
    REQUIRE(static_cast<std::uint8_t>(bytes[kind_at]) == 0);
    bytes[kind_at] = 4;
    CHECK_FALSE(decode(bytes).has_value());
}

TEST_CASE("a node's slot is the MessageId's node bits") {
    for (const std::uint32_t node : {0U, 1U, 17U, 31U}) {
        rrpc::message_id_generator ids{0, 5};
        ids.set_node(node);
        const auto id = ids.next(std::chrono::system_clock::now());
        CHECK(((id >> (rrpc::message_id_generator::shard_bits +
                       rrpc::message_id_generator::sequence_bits)) &
               rrpc::message_id_generator::max_node) == node);
        CHECK(((id >> rrpc::message_id_generator::sequence_bits) &
               rrpc::message_id_generator::max_shard) == 5);  // the shard stays
    }
}
