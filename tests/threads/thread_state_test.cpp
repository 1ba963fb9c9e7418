#include "threads/thread_state.h"

#include <thread>

#include <doctest/doctest.h>

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
  CHECK(s->chunk_limit() == 1000 / 256 + 1);
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
