#include "threads/thread_state.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

using measure::detail::SiteCounters;
using measure::detail::ThreadRegistry;
using measure::detail::ThreadState;

TEST_CASE("thread registry: states are reused and never lost") {
  ThreadRegistry registry;
  ThreadState* a = registry.acquire();
  ThreadState* b = registry.acquire();
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  CHECK(a != b);
  CHECK(registry.count() == 2);
  a->site(3)->alloc_count = 5;
  a->last_allocation = 0x1234;
  registry.release(a);
  ThreadState* c = registry.acquire();
  CHECK(c == a);                        // pooled
  CHECK(c->last_allocation == 0);       // the new owner starts clean ...
  CHECK(c->site(3)->alloc_count == 5);  // ... but counters keep accumulating
  CHECK(registry.count() == 2);
  int seen = 0;
  for (ThreadState* s = registry.first(); s != nullptr; s = s->next_in_registry) {
    ++seen;
  }
  CHECK(seen == 2);
}

TEST_CASE("thread state: sites are found by readers, absent chunks are null") {
  ThreadRegistry registry;
  ThreadState* s = registry.acquire();
  REQUIRE(s != nullptr);
  CHECK(s->find_site(1000) == nullptr);
  s->site(1000)->alloc_bytes = 42;
  REQUIRE(s->find_site(1000) != nullptr);
  CHECK(s->find_site(1000)->alloc_bytes == 42);
  CHECK(s->find_site(1001) != nullptr);  // same chunk
  CHECK(s->find_site(100000) == nullptr);
  CHECK(s->chunk_limit() == (1000U >> ThreadState::site_chunk_bits) + 1);
}

TEST_CASE("thread state: for_each_site visits the touched chunks below the limit, in id order") {
  constexpr std::uint32_t chunk = 1U << ThreadState::site_chunk_bits;
  ThreadRegistry registry;
  ThreadState* s = registry.acquire();
  REQUIRE(s != nullptr);
  const std::uint32_t high_id = 3 * chunk + chunk / 2;  // chunk 3; chunks 1 and 2 are never touched
  SiteCounters* low = s->site(3);
  SiteCounters* high = s->site(high_id);
  REQUIRE(low != nullptr);
  REQUIRE(high != nullptr);
  low->alloc_bytes = 7;
  high->alloc_bytes = 42;
  std::vector<std::uint32_t> ids;
  std::uint64_t bytes = 0;
  s->for_each_site(UINT32_MAX, [&](std::uint32_t id, const SiteCounters& c) {
    ids.push_back(id);
    bytes += c.alloc_bytes;
  });
  REQUIRE(ids.size() == 2 * chunk);
  CHECK(ids.front() == 0);
  CHECK(ids[chunk - 1] == chunk - 1);
  CHECK(ids[chunk] == 3 * chunk);
  CHECK(ids.back() == 4 * chunk - 1);
  CHECK(bytes == 49);
  std::vector<std::uint32_t> below;
  s->for_each_site(high_id, [&](std::uint32_t id, const SiteCounters&) { below.push_back(id); });
  REQUIRE(below.size() == chunk + high_id - 3 * chunk);
  CHECK(below.back() == high_id - 1);
  std::size_t none = 0;
  s->for_each_site(0, [&](std::uint32_t, const SiteCounters&) { ++none; });
  CHECK(none == 0);
  // A range that starts inside one chunk, skips the untouched ones and ends inside another.
  std::vector<std::uint32_t> range;
  s->for_each_site(chunk - 2, high_id + 1, [&](std::uint32_t id, const SiteCounters&) { range.push_back(id); });
  REQUIRE(range.size() == 2 + high_id + 1 - 3 * chunk);
  CHECK(range.front() == chunk - 2);
  CHECK(range[2] == 3 * chunk);
  CHECK(range.back() == high_id);
  std::vector<std::uint32_t> inside;
  s->for_each_site(3 * chunk + 1, 3 * chunk + 3, [&](std::uint32_t id, const SiteCounters&) { inside.push_back(id); });
  CHECK(inside == std::vector<std::uint32_t>{3 * chunk + 1, 3 * chunk + 2});
}

TEST_CASE("thread registry: concurrent acquire gives distinct states") {
  ThreadRegistry registry;
  ThreadState* got[4] = {};
  std::thread threads[4];
  for (int i = 0; i < 4; ++i) {
    threads[i] = std::thread([&, i] { got[i] = registry.acquire(); });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (int i = 0; i < 4; ++i) {
    for (int j = i + 1; j < 4; ++j) {
      CHECK(got[i] != got[j]);
    }
  }
  CHECK(registry.count() == 4);
}

using measure::detail::EventTotals;
using measure::detail::ExitedThread;
using measure::detail::LargestBlock;
using measure::detail::ThreadSummary;

TEST_CASE("thread summary: each size in its power-of-two class, bytes and counts exact") {
  ThreadSummary s;
  const std::uint64_t sizes[] = {0, 0, 1, 2, 3, 4, 7, 8, 1023, 1024, std::uint64_t{1} << 40, UINT64_MAX};
  for (std::uint64_t size : sizes) {
    s.on_allocation(1, size);
  }
  auto expect = [&](unsigned c, std::uint64_t count, std::uint64_t bytes) {
    CAPTURE(c);
    CHECK(s.size_class(c).count == count);
    CHECK(s.size_class(c).bytes == bytes);
  };
  expect(0, 2, 0);
  expect(1, 1, 1);
  expect(2, 2, 5);
  expect(3, 2, 11);
  expect(4, 1, 8);
  expect(10, 1, 1023);
  expect(11, 1, 1024);
  expect(41, 1, std::uint64_t{1} << 40);
  expect(64, 1, UINT64_MAX);
  s.on_temporary(40);
  s.on_temporary(2);
  CHECK(s.temporary_bytes() == 42);
}

TEST_CASE("thread summary: the 16 largest blocks, the earliest of equal sizes, and nothing of 0 bytes") {
  ThreadSummary s;
  s.on_allocation(9, 0);
  LargestBlock kept[ThreadSummary::largest_kept];
  CHECK(s.copy_largest(kept) == 0);
  // 40 blocks: sizes 100, 101, ... with every size twice (stack = the block's number).
  for (std::uint32_t i = 0; i < 40; ++i) {
    s.on_allocation(i, 100 + i / 2);
  }
  REQUIRE(s.copy_largest(kept) == ThreadSummary::largest_kept);
  std::vector<std::uint32_t> stacks;
  for (const LargestBlock& b : kept) {
    CHECK(b.size == 100 + b.stack / 2);
    stacks.push_back(b.stack);
  }
  std::sort(stacks.begin(), stacks.end());
  std::vector<std::uint32_t> expected;
  for (std::uint32_t i = 24; i < 40; ++i) {
    expected.push_back(i);  // sizes 112 to 119, both blocks of each
  }
  CHECK(stacks == expected);
  s.on_allocation(99, 112);  // equal to the smallest kept: the earlier ones stay
  REQUIRE(s.copy_largest(kept) == ThreadSummary::largest_kept);
  for (const LargestBlock& b : kept) {
    CHECK(b.stack != 99);
  }
  s.reset();
  CHECK(s.copy_largest(kept) == 0);
  CHECK(s.size_class(8).count == 0);
}

TEST_CASE("thread registry: an exiting thread leaves its own counts, id and name; the rest are summed") {
  ThreadRegistry registry;
  ThreadState* quiet = registry.acquire();
  REQUIRE(quiet != nullptr);
  registry.release(quiet);  // no event: not listed
  std::vector<std::uint64_t> ids;
  for (std::uint32_t i = 0; i < ThreadRegistry::exited_kept + 3; ++i) {
    ThreadState* s = registry.acquire();
    REQUIRE(s != nullptr);
    s->on_own_event(1, true, 100 + i);
    s->on_own_event(1, false, 100 + i);
    ids.push_back(s->os_thread_id);
    registry.release(s);
  }
  std::uint32_t listed = 0;
  registry.for_each_exited([&](const ExitedThread& e) {
    CAPTURE(listed);
    CHECK(e.totals.alloc_count == 1);
    CHECK(e.totals.alloc_bytes == 100 + listed);  // only this owner's, not the state's earlier owners'
    CHECK(e.totals.freed_bytes == 100 + listed);
    CHECK(e.os_thread_id == ids[listed]);
    CHECK(std::string(e.name).size() <= 15);
    ++listed;
  });
  CHECK(listed == ThreadRegistry::exited_kept);
  EventTotals other{};
  CHECK(registry.other_exited(&other) == 3);
  CHECK(other.alloc_count == 3);
  CHECK(other.alloc_bytes == 3 * (100 + ThreadRegistry::exited_kept) + 3);
  registry.forget_exited();
  listed = 0;
  registry.for_each_exited([&](const ExitedThread&) { ++listed; });
  CHECK(listed == 0);
  CHECK(registry.other_exited(&other) == 0);
}
