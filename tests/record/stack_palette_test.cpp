// The stack palette: one-byte names for up to 255 stacks, handed out once.
#include "record/stack_palette.h"

#include <memory>
#include <set>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

using measure::detail::StackPalette;

TEST_CASE("stack palette: one index per stack until full, then none") {
  auto palette = std::make_unique<StackPalette>();
  CHECK(palette->index_of(0) == 0);  // the unknown stack is never named
  CHECK(palette->stack(0) == 0);
  for (std::uint32_t stack = 1; stack <= StackPalette::capacity; ++stack) {
    CAPTURE(stack);
    std::uint32_t index = palette->index_of(stack * 7);
    CHECK(index == stack);
    CHECK(palette->index_of(stack * 7) == index);  // asked again: the same
    CHECK(palette->stack(index) == stack * 7);
  }
  CHECK(palette->index_of(100000) == 0);  // full
  CHECK(palette->index_of(7) == 1);       // known stacks still have theirs
}

TEST_CASE("stack palette: a forked child's indices all name the inherited stack") {
  auto palette = std::make_unique<StackPalette>();
  std::uint32_t a = palette->index_of(11);
  std::uint32_t b = palette->index_of(12);
  palette->retag_all(99);
  CHECK(palette->stack(a) == 99);
  CHECK(palette->stack(b) == 99);
  std::uint32_t again = palette->index_of(11);  // the child's own blocks of stack 11
  CHECK(again != a);
  CHECK(again != b);
  CHECK(palette->stack(again) == 11);
}

TEST_CASE("stack palette: threads asking at once get indices that name their stacks") {
  auto palette = std::make_unique<StackPalette>();
  std::vector<std::vector<std::uint32_t>> got(2);
  auto ask = [&](int t) {
    for (std::uint32_t stack = 1; stack <= 100; ++stack) {
      got[t].push_back(palette->index_of(stack));
    }
  };
  std::thread first(ask, 0);
  std::thread second(ask, 1);
  first.join();
  second.join();
  std::set<std::uint32_t> used;
  for (int t = 0; t < 2; ++t) {
    for (std::uint32_t stack = 1; stack <= 100; ++stack) {
      std::uint32_t index = got[t][stack - 1];
      REQUIRE(index != 0);
      CHECK(palette->stack(index) == stack);
      used.insert(index);
    }
  }
  CHECK(used.size() >= 100);
  CHECK(used.size() <= 200);
}
