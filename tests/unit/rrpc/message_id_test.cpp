#include "rrpc/message_id.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace rrpcd::rrpc;
using namespace std::chrono;

TEST_CASE("ids are below 2^53, increasing, and carry time, node and shard", "[rrpc]") {
    message_id_generator gen{7, 5};
    const auto now = system_clock::time_point{milliseconds{1'764'547'200'000}};  // 2025-12-01
    std::set<std::uint64_t> seen;
    std::uint64_t previous = 0;
    for (int i = 0; i < 10'000; ++i) {  // 10,000 ids in one millisecond borrow the next ones
        const auto id = gen.next(now);
        CHECK(id < (std::uint64_t{1} << 53));
        CHECK(id > previous);
        previous = id;
        seen.insert(id);
    }
    CHECK(seen.size() == 10'000);
    const auto first = *seen.begin();
    CHECK(message_id_generator::time_ms_of(first) == 1'764'547'200'000);
    using g = message_id_generator;
    CHECK(((first >> (g::shard_bits + g::sequence_bits)) & g::max_node) == 7);
    CHECK(((first >> g::sequence_bits) & g::max_shard) == 5);
    // After the burst, the clock catching up does not reuse ids.
    CHECK(gen.next(now + milliseconds{1}) > previous);
}

TEST_CASE("two nodes never collide, and a restart later continues above", "[rrpc]") {
    const auto now = system_clock::now();
    message_id_generator a{0};
    message_id_generator b{1};
    std::set<std::uint64_t> ids;
    for (int i = 0; i < 1000; ++i) {
        ids.insert(a.next(now));
        ids.insert(b.next(now));
    }
    CHECK(ids.size() == 2000);
    message_id_generator restarted{0};
    CHECK(restarted.next(now + seconds{1}) > *ids.rbegin());
}

TEST_CASE("every node and shard of a cluster issues its own ids, none shared", "[rrpc]") {
    const auto now = system_clock::now();
    std::set<std::uint64_t> ids;
    std::size_t made = 0;
    for (std::uint32_t node = 0; node <= message_id_generator::max_node; ++node)
        for (std::uint32_t shard = 0; shard <= message_id_generator::max_shard; ++shard) {
            message_id_generator gen{node, shard};
            for (int i = 0; i < 40; ++i, ++made) ids.insert(gen.next(now));  // past a ms each
        }
    CHECK(ids.size() == made);
}

TEST_CASE(
    "an id made before shards (5 node and 8 sequence bits) keeps its time, and ids resume "
    "above it",
    "[rrpc]") {
    // 2025-12-01, node 3, sequence 200 in the old layout.
    const std::uint64_t old =
        (std::uint64_t{1'764'547'200'000 - message_id_generator::epoch_ms} << 13) | (3U << 8) |
        200U;
    CHECK(message_id_generator::time_ms_of(old) == 1'764'547'200'000);
    message_id_generator gen{3, 2};
    gen.resume_after(old);
    CHECK(gen.next(system_clock::time_point{milliseconds{1'764'547'200'000}}) > old);
}

TEST_CASE("ids stay below 2^53 until 2059", "[rrpc]") {
    message_id_generator gen{31, 15};
    const auto late = system_clock::time_point{
        milliseconds{message_id_generator::epoch_ms + (std::int64_t{1} << 40) - 1}};
    CHECK(gen.next(late) < (std::uint64_t{1} << 53));
}

TEST_CASE("after a restart with the clock stepped back, ids resume above the stored ones",
          "[rrpc]") {
    const auto now = system_clock::now();
    message_id_generator before{3};
    std::uint64_t stored = 0;
    for (int i = 0; i < 300; ++i)
        stored = before.next(now);  // the previous one borrowed a millisecond
    message_id_generator restarted{3};
    restarted.resume_after(stored);
    const auto stepped_back = now - seconds{5};
    const auto first = restarted.next(stepped_back);
    CHECK(first > stored);
    CHECK(restarted.next(stepped_back) > first);
    restarted.resume_after(stored - 1000);  // an older id changes nothing
    CHECK(restarted.next(stepped_back) > first);
}

TEST_CASE("the floor is above every id issued, and every id issued within its lead", "[rrpc]") {
    const auto now = system_clock::now();
    message_id_generator gen{1};
    std::uint64_t previous = 0;
    for (int i = 0; i < 600; ++i) previous = gen.next(now);  // borrows two milliseconds ahead
    const auto lowest = gen.floor(now, milliseconds{5000});
    CHECK(lowest > previous);
    // Ids issued within the lead stay below it (the floor is persisted each second).
    CHECK(gen.next(now + milliseconds{4999}) < lowest);
    // A restart resuming after the floor never repeats one, whatever its clock reads.
    message_id_generator restarted{1};
    restarted.resume_after(lowest);
    CHECK(restarted.next(now - seconds{2}) > lowest);
    CHECK(lowest < (std::uint64_t{1} << 53));
}
