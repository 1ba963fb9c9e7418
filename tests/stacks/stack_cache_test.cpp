// StackCache: a walk is reused exactly when every stack word it read still holds what it read,
// and several walks from the same frame (the same return address and stack pointer, reached
// from different callers) are kept side by side instead of evicting each other.
#include "stacks/stack_cache.h"

#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

namespace measure::detail {
namespace {

// A stand-in for the stack words a walk read: their addresses are what the cache re-reads.
struct Words {
  std::uintptr_t word[4] = {0x1000, 0x2000, 0x3000, 0x4000};
  StackCheck check(int i) const { return StackCheck{reinterpret_cast<std::uintptr_t>(&word[i]), word[i]}; }
};

std::uint32_t found(const StackCache& cache, const CallerFrame& start, std::uint32_t generation = 1) {
  std::uint32_t stack = 0;
  return cache.find(start, generation, &stack) ? stack : 0;
}

}  // namespace

TEST_CASE("stack cache: a walk is reused while the words it read hold the same values") {
  StackCache cache;
  Words w;
  CallerFrame start{0x401000, 0x7ff000, 0x55};
  CHECK(found(cache, start) == 0);
  StackCheck checks[] = {w.check(0), w.check(1)};
  cache.remember(start, false, 1, 7, checks, 2);
  CHECK(found(cache, start) == 7);
  CHECK(found(cache, start, 2) == 0);                               // another module generation
  CHECK(found(cache, CallerFrame{0x401000, 0x7ff008, 0x55}) == 0);  // another stack pointer
  CHECK(found(cache, CallerFrame{0x401001, 0x7ff000, 0x55}) == 0);  // another return address
  CHECK(found(cache, CallerFrame{0x401000, 0x7ff000, 0x66}) == 7);  // rbp unused by the walk
  w.word[1] = 0x2001;
  CHECK(found(cache, start) == 0);
  w.word[1] = 0x2000;
  CHECK(found(cache, start) == 7);
}

TEST_CASE("stack cache: a walk that depended on the start frame's rbp needs the same rbp") {
  StackCache cache;
  Words w;
  CallerFrame start{0x401000, 0x7ff000, 0x55};
  StackCheck checks[] = {w.check(0)};
  cache.remember(start, true, 1, 9, checks, 1);
  CHECK(found(cache, start) == 9);
  CHECK(found(cache, CallerFrame{0x401000, 0x7ff000, 0x66}) == 0);
}

TEST_CASE("stack cache: walks from the same frame by different callers are all kept") {
  StackCache cache;
  Words w;
  CallerFrame start{0x401000, 0x7ff000, 0};
  // The same frame, called from `ways` different places: the word read first (the frame's
  // return address) differs, and each walk has its own stack.
  std::vector<std::uintptr_t> callers;
  for (std::uint32_t i = 0; i < StackCache::ways; ++i) {
    callers.push_back(0x500000 + 0x10 * i);
    w.word[0] = callers.back();
    StackCheck checks[] = {w.check(0), w.check(1)};
    cache.remember(start, false, 1, 100 + i, checks, 2);
  }
  for (int round = 0; round < 3; ++round) {
    for (std::uint32_t i = 0; i < StackCache::ways; ++i) {
      CAPTURE(i);
      w.word[0] = callers[i];
      CHECK(found(cache, start) == 100 + i);
    }
  }
  // One caller more than a set holds: it replaces the oldest, the others stay.
  w.word[0] = 0x600000;
  StackCheck checks[] = {w.check(0), w.check(1)};
  cache.remember(start, false, 1, 200, checks, 2);
  CHECK(found(cache, start) == 200);
  w.word[0] = callers[0];
  CHECK(found(cache, start) == 0);
  for (std::uint32_t i = 1; i < StackCache::ways; ++i) {
    w.word[0] = callers[i];
    CHECK(found(cache, start) == 100 + i);
  }
}

TEST_CASE("stack cache: clear forgets every walk") {
  StackCache cache;
  Words w;
  CallerFrame start{0x401000, 0x7ff000, 0};
  StackCheck checks[] = {w.check(0)};
  cache.remember(start, false, 1, 5, checks, 1);
  CHECK(found(cache, start) == 5);
  cache.clear();
  CHECK(found(cache, start) == 0);
}

}  // namespace measure::detail
