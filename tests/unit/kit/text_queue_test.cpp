#include "kit/text_queue.hpp"

#include <catch2/catch.hpp>

using rrpcd::kit::text_queue;

namespace {
text_queue::entry entry_of(std::uint64_t id, std::size_t bytes) {
    return {id, std::make_shared<const std::string>(bytes, 'x')};
}
}  // namespace

TEST_CASE("a text queue keeps its order and its byte count", "[kit]") {
    text_queue q{10, 1000};
    CHECK(q.push(entry_of(1, 100)) == 0);
    CHECK(q.push(entry_of(2, 200)) == 0);
    CHECK(q.size() == 2);
    CHECK(q.bytes() == 300);
    CHECK(q.pop().id == 1);
    CHECK(q.bytes() == 200);
    CHECK(q.pop().id == 2);
    CHECK(q.empty());
    CHECK(q.bytes() == 0);
}

TEST_CASE("a text queue past its byte bound drops the oldest until the new one fits", "[kit]") {
    text_queue q{100, 1000};
    for (std::uint64_t id = 1; id <= 4; ++id) CHECK(q.push(entry_of(id, 250)) == 0);
    CHECK(q.push(entry_of(5, 600)) == 3);  // 1000 + 600: 1, 2 and 3 go
    CHECK(q.size() == 2);
    CHECK(q.bytes() == 850);
    CHECK(q.pop().id == 4);
    // One text larger than the bound is still kept (the newest always is), alone.
    CHECK(q.push(entry_of(6, 5000)) == 1);
    CHECK(q.size() == 1);
    CHECK(q.pop().id == 6);
}

TEST_CASE("a text queue past its count bound drops the oldest", "[kit]") {
    text_queue q{2, 1'000'000};
    CHECK(q.push(entry_of(1, 1)) == 0);
    CHECK(q.push(entry_of(2, 1)) == 0);
    CHECK(q.push(entry_of(3, 1)) == 1);
    CHECK(q.pop().id == 2);
    CHECK(q.pop().id == 3);
}

TEST_CASE("queues sharing a text share its memory", "[kit]") {
    text_queue a{10, 1000}, b{10, 1000};
    const auto body = std::make_shared<const std::string>(400, 'y');
    a.push({1, body});
    b.push({1, body});
    CHECK(body.use_count() == 3);  // one rendering, held by both queues
    CHECK(a.bytes() == 400);
    CHECK(b.bytes() == 400);
}
