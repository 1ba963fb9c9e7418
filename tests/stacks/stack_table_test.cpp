#include "stacks/stack_table.h"

#include <memory>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "support/hash.h"

using measure::detail::hash_frames;
using measure::detail::StackRecord;
using measure::detail::StackTable;

namespace {
std::uint32_t intern(StackTable& table, const std::vector<std::uintptr_t>& frames, std::uint32_t generation = 0,
                     std::uint32_t flags = 0) {
  auto depth = static_cast<std::uint32_t>(frames.size());
  return table.intern(frames.data(), depth, generation, flags, hash_frames(frames.data(), depth, generation));
}
}  // namespace

TEST_CASE("stack interning: equal stacks share an id, different ones do not") {
  auto table = std::make_unique<StackTable>();
  REQUIRE(table->init());
  CHECK(table->count() == 1);  // id 0: the empty stack
  std::uint32_t a = intern(*table, {0x401000, 0x402000, 0x403000});
  std::uint32_t b = intern(*table, {0x401000, 0x402000, 0x403000});
  std::uint32_t c = intern(*table, {0x401000, 0x402000});
  std::uint32_t d = intern(*table, {0x401000, 0x402000, 0x403000}, 1);  // after a dlclose
  CHECK(a != StackTable::unknown_id);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a != d);
  const StackRecord* record = table->get(a);
  REQUIRE(record != nullptr);
  CHECK(record->depth == 3);
  std::uintptr_t frames[3] = {};
  CHECK(StackTable::frames(*record, frames) == 3);
  CHECK(frames[0] == 0x401000);
  CHECK(frames[2] == 0x403000);
  CHECK(table->get(d)->generation == 1);
  CHECK(table->get(table->count()) == nullptr);
  CHECK(table->get(0)->depth == 0);
}

TEST_CASE("stack interning: flags are kept and the empty stack is id 0's twin") {
  auto table = std::make_unique<StackTable>();
  REQUIRE(table->init());
  std::uint32_t id = intern(*table, {0x1234}, 0, measure::detail::stack_truncated);
  CHECK(table->get(id)->flags == measure::detail::stack_truncated);
}

TEST_CASE("stack interning: thousands of stacks from two threads get consistent ids") {
  auto table = std::make_unique<StackTable>();
  REQUIRE(table->init());
  constexpr int stacks = 5000;
  std::vector<std::uint32_t> ids_a(stacks);
  std::vector<std::uint32_t> ids_b(stacks);
  auto work = [&](std::vector<std::uint32_t>& ids) {
    for (int i = 0; i < stacks; ++i) {
      std::vector<std::uintptr_t> frames = {0x400000u + static_cast<std::uintptr_t>(i) * 8, 0x500000, 0x600000};
      ids[static_cast<std::size_t>(i)] = intern(*table, frames);
    }
  };
  std::thread a(work, std::ref(ids_a));
  std::thread b(work, std::ref(ids_b));
  a.join();
  b.join();
  CHECK(ids_a == ids_b);
  CHECK(table->count() == stacks + 1);
  for (int i = 0; i < stacks; ++i) {
    std::uintptr_t frames[3] = {};
    StackTable::frames(*table->get(ids_a[static_cast<std::size_t>(i)]), frames);
    CHECK(frames[0] == 0x400000u + static_cast<std::uintptr_t>(i) * 8);
  }
}

TEST_CASE("stack interning: coded frames decode to what was interned, whatever the distances") {
  // Neighbours a few bytes apart, in other modules (far above and below), the extremes of the
  // address space, and repeats: every difference codes and decodes exactly.
  auto table = std::make_unique<StackTable>();
  REQUIRE(table->init());
  std::vector<std::vector<std::uintptr_t>> stacks = {
      {0x401000, 0x401004, 0x400ffc, 0x7f12345678ab, 0x55aa00001000, 0x401000},
      {UINTPTR_MAX, 0, UINTPTR_MAX, 1, 0x8000000000000000ULL, 0x7fffffffffffffffULL},
      {0x1234},
      std::vector<std::uintptr_t>(StackTable::max_frames, 0x7fffdeadbeefULL),
  };
  for (std::size_t n = 0; n < 64; ++n) {
    std::vector<std::uintptr_t> frames;
    for (std::size_t i = 0; i <= n; ++i) {
      frames.push_back(0x400000 + ((n * 2654435761U + i * 40503U) % 0x100000) * 16);
    }
    stacks.push_back(frames);
  }
  std::vector<std::uint32_t> ids;
  for (const auto& frames : stacks) {
    ids.push_back(intern(*table, frames));
  }
  for (std::size_t s = 0; s < stacks.size(); ++s) {
    CAPTURE(s);
    const StackRecord* record = table->get(ids[s]);
    REQUIRE(record != nullptr);
    std::vector<std::uintptr_t> decoded(StackTable::max_frames);
    REQUIRE(StackTable::frames(*record, decoded.data()) == stacks[s].size());
    decoded.resize(stacks[s].size());
    CHECK(decoded == stacks[s]);
    CHECK(intern(*table, stacks[s]) == ids[s]);
  }
  // A frame's worth of difference in a deeper stack is a different stack.
  CHECK(intern(*table, {0x401000, 0x401004, 0x400ffc, 0x7f12345678ab, 0x55aa00001000, 0x401001}) != ids[0]);
  std::vector<std::uintptr_t> too_deep(StackTable::max_frames + 1, 0x401000);
  CHECK(intern(*table, too_deep) == StackTable::unknown_id);
}
