#include "threads/thread_state.h"

#include <cstdint>
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
