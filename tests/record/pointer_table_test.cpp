#include "record/pointer_table.h"

#include <memory>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include <doctest/doctest.h>

using measure::detail::AllocFamily;
using measure::detail::BlockInfo;
using measure::detail::PointerTable;

namespace {
// The table is large (one cache line per shard): keep it off the stack.
std::unique_ptr<PointerTable> make_table() {
  return std::make_unique<PointerTable>();
}
}  // namespace

TEST_CASE("pointer table: insert, find, remove") {
  auto table = make_table();
  BlockInfo info;
  CHECK_FALSE(table->find(0x1000, &info));
  CHECK_FALSE(table->remove(0x1000, &info));
  REQUIRE(table->insert(0x1000, BlockInfo{24, 7, AllocFamily::new_scalar}));
  REQUIRE(table->find(0x1000, &info));
  CHECK(info.size == 24);
  CHECK(info.stack == 7);
  CHECK(info.family == AllocFamily::new_scalar);
  CHECK(table->size() == 1);
  REQUIRE(table->remove(0x1000, &info));
  CHECK(info.size == 24);
  CHECK_FALSE(table->find(0x1000, &info));
  CHECK(table->size() == 0);
}

TEST_CASE("pointer table: sizes beyond 35 bits, the largest stack id and the rounding bit round-trip") {
  auto table = make_table();
  const std::uint64_t huge = (1ULL << 40) + 12345;
  REQUIRE(table->insert(0x2000, BlockInfo{huge, PointerTable::max_stack_id, AllocFamily::new_array, true}));
  REQUIRE(table->insert(0x3000, BlockInfo{(1ULL << 35) - 1, 1, AllocFamily::malloc}));
  REQUIRE(table->insert(0x4000, BlockInfo{(1ULL << 35) - 2, 2, AllocFamily::reported, true}));
  BlockInfo info;
  REQUIRE(table->find(0x2000, &info));
  CHECK(info.size == huge);
  CHECK(info.stack == PointerTable::max_stack_id);
  CHECK(info.family == AllocFamily::new_array);
  CHECK(info.round_up);
  REQUIRE(table->remove(0x3000, &info));
  CHECK(info.size == (1ULL << 35) - 1);
  CHECK_FALSE(info.round_up);
  REQUIRE(table->remove(0x4000, &info));
  CHECK(info.size == (1ULL << 35) - 2);
  CHECK(info.stack == 2);
  CHECK(info.family == AllocFamily::reported);
  CHECK(info.round_up);
  REQUIRE(table->remove(0x2000, &info));
  CHECK(info.size == huge);
  CHECK(info.round_up);
  CHECK_FALSE(table->find(0x2000, &info));
}

TEST_CASE("pointer table: agrees with a reference map under random churn") {
  auto table = make_table();
  std::unordered_map<std::uintptr_t, BlockInfo> reference;
  std::mt19937_64 random(42);
  std::vector<std::uintptr_t> live;
  for (int step = 0; step < 200000; ++step) {
    if (live.empty() || random() % 3 != 0) {
      std::uintptr_t address = (random() % (1U << 24)) * 16 + 16;
      if (reference.count(address) != 0) {
        continue;
      }
      BlockInfo info{random() % 5000, static_cast<std::uint32_t>(random() % 1000), AllocFamily::malloc};
      REQUIRE(table->insert(address, info));
      reference[address] = info;
      live.push_back(address);
    } else {
      std::size_t i = random() % live.size();
      std::uintptr_t address = live[i];
      live[i] = live.back();
      live.pop_back();
      BlockInfo info;
      REQUIRE(table->remove(address, &info));
      CHECK(info.size == reference[address].size);
      CHECK(info.stack == reference[address].stack);
      reference.erase(address);
    }
  }
  CHECK(table->size() == reference.size());
  struct Visit {
    std::unordered_map<std::uintptr_t, BlockInfo>* reference;
    std::size_t visited;
  } visit{&reference, 0};
  table->for_each(
      [](std::uintptr_t address, const BlockInfo& info, void* context) {
        auto* v = static_cast<Visit*>(context);
        auto it = v->reference->find(address);
        CHECK(it != v->reference->end());
        CHECK(it->second.size == info.size);
        ++v->visited;
      },
      &visit);
  CHECK(visit.visited == reference.size());
  // Memory stays near the budget of about 32 bytes per live block: 16-byte slots at a load of at least 0.35.
  CHECK(table->memory_bytes() <= sizeof(PointerTable) + reference.size() * 16 * 3);
}

TEST_CASE("pointer table: two threads inserting and removing at once") {
  auto table = make_table();
  auto work = [&](std::uintptr_t base) {
    for (int round = 0; round < 20; ++round) {
      for (std::uintptr_t i = 0; i < 20000; ++i) {
        REQUIRE(table->insert(base + i * 16, BlockInfo{i, static_cast<std::uint32_t>(round), AllocFamily::malloc}));
      }
      for (std::uintptr_t i = 0; i < 20000; ++i) {
        BlockInfo info;
        REQUIRE(table->remove(base + i * 16, &info));
        REQUIRE(info.size == i);
      }
    }
  };
  std::thread a(work, 0x10000000);
  std::thread b(work, 0x20000000);
  a.join();
  b.join();
  CHECK(table->size() == 0);
}
