// The runtime's shared structures under several writer threads at once, with readers walking
// them meanwhile, as reports, snapshots and checkpoints do while the program allocates. The
// end states are exact; under ThreadSanitizer (scripts/test.sh's tsan stage) every access is
// also checked for data races.
#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "record/block_shadow.h"
#include "record/peak.h"
#include "record/pointer_table.h"
#include "stacks/stack_table.h"
#include "support/hash.h"
#include "support/libc_allocator.h"
#include "threads/thread_state.h"
#include "threads/thread_summary.h"

using namespace measure::detail;

namespace {

constexpr int writers = 4;

// Runs work(i) on `writers` threads and reader() on one more, until the writers are done.
template <class Work, class Reader>
void run_with_reader(Work work, Reader reader) {
  std::atomic<bool> done{false};
  std::thread reading([&] {
    while (!done.load(std::memory_order_acquire)) {
      reader();
    }
    reader();  // once more, after every write
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < writers; ++i) {
    threads.emplace_back(work, i);
  }
  for (std::thread& t : threads) {
    t.join();
  }
  done.store(true, std::memory_order_release);
  reading.join();
}

}  // namespace

TEST_CASE("pointer table: writers churn their own blocks while a reader walks and counts the table") {
  auto table = std::make_unique<PointerTable>();
  constexpr std::uintptr_t blocks = 4000;
  constexpr std::uintptr_t kept = 100;  // each writer leaves these live
  std::atomic<int> failures{0};
  std::atomic<std::uint64_t> walks{0};
  auto work = [&](int w) {
    std::uintptr_t base = (static_cast<std::uintptr_t>(w) + 1) << 32;
    for (int round = 0; round < 10; ++round) {
      for (std::uintptr_t i = 0; i < blocks; ++i) {
        failures +=
            table->insert(base + i * 16, BlockInfo{i, static_cast<std::uint32_t>(w), AllocFamily::malloc}) ? 0 : 1;
      }
      for (std::uintptr_t i = round == 9 ? kept : 0; i < blocks; ++i) {
        BlockInfo info;
        bool found = table->remove(base + i * 16, &info);
        failures += found && info.size == i && info.stack == static_cast<std::uint32_t>(w) ? 0 : 1;
      }
    }
  };
  auto reader = [&] {
    struct Seen {
      std::uint64_t count = 0;
      bool consistent = true;
    } seen;
    table->for_each(
        [](std::uintptr_t address, const BlockInfo& info, void* context) {
          auto* s = static_cast<Seen*>(context);
          ++s->count;
          // Every block's size is its index within its writer's range, its stack the writer.
          s->consistent &= info.size == ((address & 0xffffffffU) / 16) && info.stack + 1 == (address >> 32);
        },
        &seen);
    failures += seen.consistent && seen.count <= writers * blocks ? 0 : 1;
    failures += table->size() <= writers * blocks ? 0 : 1;
    ++walks;
  };
  run_with_reader(work, reader);
  CHECK(failures == 0);
  CHECK(walks > 0);
  CHECK(table->size() == writers * kept);
  BlockInfo info;
  CHECK(table->find((std::uintptr_t{3} << 32) + (kept - 1) * 16, &info));
  CHECK(info.size == kept - 1);
}

TEST_CASE("stack table: writers intern overlapping stacks while a reader fetches every published record") {
  auto table = std::make_unique<StackTable>();
  REQUIRE(table->init());
  constexpr std::uint32_t stacks = 3000;
  // Stack i has 1 + i % 5 frames: i, then i's checksum; a reader can verify a record whole.
  auto frames_of = [](std::uint32_t i) {
    std::vector<std::uintptr_t> frames = {0x400000u + i * 16u};
    for (std::uint32_t d = 0; d < i % 5; ++d) {
      frames.push_back(0x700000u + i * 7u + d);
    }
    return frames;
  };
  std::vector<std::vector<std::uint32_t>> ids(writers, std::vector<std::uint32_t>(stacks));
  std::atomic<int> failures{0};
  auto work = [&](int w) {
    for (std::uint32_t n = 0; n < stacks; ++n) {
      std::uint32_t i = (n * 7919u + static_cast<std::uint32_t>(w) * 1000u) % stacks;  // each in its own order
      std::vector<std::uintptr_t> frames = frames_of(i);
      auto depth = static_cast<std::uint32_t>(frames.size());
      ids[static_cast<std::size_t>(w)][i] =
          table->intern(frames.data(), depth, 0, 0, hash_frames(frames.data(), depth, 0));
    }
  };
  auto reader = [&] {
    std::uint32_t count = table->count();
    for (std::uint32_t id = 1; id < count; ++id) {
      const StackRecord* r = table->get(id);
      if (r == nullptr || r->depth == 0) {
        ++failures;
        continue;
      }
      std::uintptr_t frames[StackTable::max_frames];
      StackTable::frames(*r, frames);
      std::uint32_t i = static_cast<std::uint32_t>((frames[0] - 0x400000u) / 16);
      failures += r->depth == 1 + i % 5 && (r->depth == 1 || frames[1] == 0x700000u + i * 7u) ? 0 : 1;
    }
  };
  run_with_reader(work, reader);
  CHECK(failures == 0);
  CHECK(table->count() == stacks + 1);
  for (int w = 1; w < writers; ++w) {
    CHECK(ids[static_cast<std::size_t>(w)] == ids[0]);
  }
}

TEST_CASE("global account: writers allocate and free while a reader watches the live bytes and the peak") {
  GlobalAccount account;
  constexpr int rounds = 50000;
  std::vector<SiteCounters> sites(writers);  // one site per writer, written by it alone
  std::atomic<int> failures{0};
  std::uint64_t last_peak = 0;
  auto work = [&](int w) {
    SiteCounters& s = sites[static_cast<std::size_t>(w)];
    auto size = static_cast<std::uint64_t>(16 * (w + 1));
    for (int i = 0; i < rounds; ++i) {
      s.on_event(account.apply(static_cast<std::int64_t>(size)), true, size);
      s.on_event(account.apply(-static_cast<std::int64_t>(size)), false, size);
    }
    s.on_event(account.apply(static_cast<std::int64_t>(size)), true, size);  // one stays live
  };
  auto reader = [&] {
    std::uint64_t peak = account.peak();
    failures += peak >= last_peak && account.live() <= 16 * (1 + 2 + 3 + 4) ? 0 : 1;
    last_peak = peak;
    std::uint64_t count = 0;
    for (const SiteCounters& s : sites) {
      count += load_relaxed(s.alloc_count);
    }
    failures += count <= std::uint64_t{writers} * (rounds + 1) ? 0 : 1;
  };
  run_with_reader(work, reader);
  CHECK(failures == 0);
  CHECK(account.live() == 16 * (1 + 2 + 3 + 4));
  std::uint64_t mark = account.mark();
  std::int64_t at_peak = 0;
  for (const SiteCounters& s : sites) {
    CHECK(s.alloc_count == rounds + 1);
    CHECK(s.free_count == rounds);
    at_peak += s.contribution_at(mark);
  }
  CHECK(at_peak == static_cast<std::int64_t>(account.peak()));
}

TEST_CASE("global account: leased events, site-less frees and recalls interleave with other threads' applies") {
  GlobalAccount account;
  account.apply(1 << 20);  // a peak far above what the writers hold, so leases are lent
  account.apply(-(1 << 20));
  constexpr int rounds = 50000;
  std::vector<SiteCounters> sites(writers);
  std::vector<std::unique_ptr<ThreadState>> states;
  for (int w = 0; w < writers; ++w) {
    states.push_back(std::make_unique<ThreadState>());
    account.enlist(states.back()->account_lease);
  }
  std::atomic<std::uint64_t> leased_events{0};
  auto work = [&](int w) {
    SiteCounters& s = sites[static_cast<std::size_t>(w)];
    ThreadState& t = *states[static_cast<std::size_t>(w)];
    auto size = static_cast<std::uint64_t>(16 * (w + 1));
    auto delta = static_cast<std::int64_t>(size);
    std::uint64_t leased = 0;
    for (int i = 0; i < rounds; ++i) {
      leased += t.account_lease.headroom() >= size ? 1 : 0;
      if (w % 2 == 0) {  // a sampled block: both events carry a transition
        s.on_event(account.event(delta, t.account_hint, t.account_lease), true, size);
        s.on_event(account.event(-delta, t.account_hint, t.account_lease), false, size);
      } else if (w == 1) {  // no site: the transitions are not used
        account.event(delta, t.account_hint, t.account_lease);
        account.event(-delta, t.account_hint, t.account_lease);
      } else {  // no lease at all
        s.on_event(account.apply(delta, t.account_hint), true, size);
        s.on_event(account.apply(-delta, t.account_hint), false, size);
      }
    }
    s.on_event(account.event(delta, t.account_hint, t.account_lease), true, size);  // one stays live
    account.give_back(t.account_lease);
    leased_events += leased;
  };
  std::atomic<int> failures{0};
  run_with_reader(work, [&] {
    failures += account.live() <= 16 * (1 + 2 + 3 + 4) ? 0 : 1;  // exact: recalls every lease
  });
  CHECK(failures == 0);
  CHECK(account.live() == 16 * (1 + 2 + 3 + 4));
  CHECK(account.peak() == 1 << 20);
  CHECK(leased_events > 0);
}

TEST_CASE("thread registry: threads come and go while a reader walks every state and its counters") {
  ThreadRegistry registry;
  std::atomic<int> failures{0};
  auto work = [&](int) {
    for (int i = 0; i < 200; ++i) {
      ThreadState* s = registry.acquire();
      if (s == nullptr) {
        ++failures;
        return;
      }
      bump(s->site(static_cast<std::uint32_t>(i % 600))->alloc_count, 1);
      registry.release(s);
    }
  };
  auto reader = [&] {
    std::uint32_t states = 0;
    for (ThreadState* s = registry.first(); s != nullptr; s = s->next_in_registry) {
      ++states;
      const SiteCounters* site = s->find_site(5);
      failures += site == nullptr || load_relaxed(site->alloc_count) <= writers * 200 ? 0 : 1;
    }
    failures += states <= writers ? 0 : 1;
  };
  run_with_reader(work, reader);
  CHECK(failures == 0);
  CHECK(registry.count() <= writers);
  std::uint64_t total = 0;
  for (ThreadState* s = registry.first(); s != nullptr; s = s->next_in_registry) {
    for (std::uint32_t site = 0; site < 600; ++site) {
      const SiteCounters* c = s->find_site(site);
      total += c == nullptr ? 0 : c->alloc_count;
    }
  }
  CHECK(total == writers * 200);
}

TEST_CASE("thread summary: owners keep ever larger blocks while a reader copies them whole") {
  // Each block's stack is a function of its size and its thread, so a copy mixing two
  // entries' fields shows.
  std::vector<ThreadSummary> summaries(writers);
  auto stack_of = [](std::uint64_t size, int thread) { return static_cast<std::uint32_t>(size * 7 + thread); };
  constexpr std::uint64_t blocks = 20000;
  auto work = [&](int t) {
    for (std::uint64_t i = 1; i <= blocks; ++i) {
      std::uint64_t size = i % 3 == 0 ? i : 17;  // a new record every third block
      summaries[t].on_allocation(stack_of(size, t), size);
    }
  };
  std::atomic<int> failures{0};
  std::atomic<int> copies{0};
  auto reader = [&] {
    for (int t = 0; t < writers; ++t) {
      LargestBlock kept[ThreadSummary::largest_kept];
      unsigned n = summaries[t].copy_largest(kept);
      copies += n != 0 ? 1 : 0;
      for (unsigned i = 0; i < n; ++i) {
        failures += kept[i].stack == stack_of(kept[i].size, t) ? 0 : 1;
      }
    }
  };
  run_with_reader(work, reader);
  CHECK(failures == 0);
  CHECK(copies > 0);
  for (int t = 0; t < writers; ++t) {
    LargestBlock kept[ThreadSummary::largest_kept];
    REQUIRE(summaries[t].copy_largest(kept) == ThreadSummary::largest_kept);
    std::uint64_t smallest = UINT64_MAX;
    for (const LargestBlock& b : kept) {
      smallest = std::min(smallest, b.size);
    }
    CHECK(smallest == blocks - 3 * (ThreadSummary::largest_kept - 1) - 2);  // the 16 largest multiples of 3
    // Class 5, 16 to 31 bytes: the blocks of 17 bytes and those of 18, 21, 24, 27 and 30.
    CHECK(summaries[t].size_class(5).count == blocks - blocks / 3 + 5);
  }
}

using measure::test::libc_allocator;

TEST_CASE("block shadow: writers enter blocks and take their neighbour's while a reader sums its memory") {
  libc_allocator();  // on this (the main) thread, before the writers
  auto shadow = std::make_unique<BlockShadow>();
  REQUIRE(shadow->enable(&measure::test::libc_usable_size, true));
  constexpr int blocks = 20000;
  std::vector<std::vector<void*>> made(writers, std::vector<void*>(blocks));
  std::vector<std::atomic<int>> ready(writers);
  std::vector<std::uint64_t> taken_bytes(writers, 0);
  auto work = [&](int w) {
    auto& mine = made[static_cast<std::size_t>(w)];
    for (int i = 0; i < blocks; ++i) {
      auto n = static_cast<std::size_t>(9 + (i * 7 + w) % 240);
      mine[static_cast<std::size_t>(i)] = libc_allocator().malloc(n);
      CHECK(mine[static_cast<std::size_t>(i)] != nullptr);
      shadow->enter(reinterpret_cast<std::uintptr_t>(mine[static_cast<std::size_t>(i)]), n, AllocFamily::malloc,
                    1 + static_cast<std::uint32_t>(w));
    }
    ready[static_cast<std::size_t>(w)].store(1, std::memory_order_release);
    int neighbour = (w + 1) % writers;
    while (ready[static_cast<std::size_t>(neighbour)].load(std::memory_order_acquire) == 0) {
      std::this_thread::yield();
    }
    for (void* p : made[static_cast<std::size_t>(neighbour)]) {
      BlockInfo info;
      if (shadow->take(reinterpret_cast<std::uintptr_t>(p), &info)) {
        CHECK(info.stack == 1 + static_cast<std::uint32_t>(neighbour));
        taken_bytes[static_cast<std::size_t>(w)] += info.size;
      }
    }
  };
  run_with_reader(work, [&] { (void)shadow->memory_bytes(); });
  for (int w = 0; w < writers; ++w) {
    std::uint64_t expected = 0;
    for (int i = 0; i < blocks; ++i) {
      expected += static_cast<std::uint64_t>(9 + (i * 7 + w) % 240);
    }
    CHECK(taken_bytes[static_cast<std::size_t>((w + writers - 1) % writers)] == expected);
    for (void* p : made[static_cast<std::size_t>(w)]) {
      libc_allocator().free(p);
    }
  }
}
