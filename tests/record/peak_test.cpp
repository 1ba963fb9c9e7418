// The global peak and each site's contribution at it, computed lazily per thread.
#include "record/peak.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <sys/time.h>

using measure::detail::GlobalAccount;
using measure::detail::PeakTransition;
using measure::detail::SiteCounters;

namespace {
struct Sim {
  GlobalAccount account;
  void alloc(SiteCounters& s, std::uint64_t bytes) {
    s.on_event(account.apply(static_cast<std::int64_t>(bytes)), true, bytes);
  }
  void free(SiteCounters& s, std::uint64_t bytes) {
    s.on_event(account.apply(-static_cast<std::int64_t>(bytes)), false, bytes);
  }
};
}  // namespace

TEST_CASE("peak: each site's contribution is its live bytes at the global maximum") {
  Sim sim;
  SiteCounters a{}, b{}, c{};
  sim.alloc(a, 100);
  sim.alloc(b, 50);
  sim.free(a, 100);
  sim.alloc(c, 500);  // peak: b 50 + c 500
  sim.alloc(a, 10);   // 560: a new peak, a 10
  sim.free(c, 500);
  sim.alloc(b, 200);  // 260, below the peak
  std::uint64_t mark = sim.account.mark();
  CHECK(sim.account.peak() == 560);
  CHECK(sim.account.live() == 260);
  CHECK(a.contribution_at(mark) == 10);
  CHECK(b.contribution_at(mark) == 50);
  CHECK(c.contribution_at(mark) == 500);
  CHECK(a.alloc_count == 2);
  CHECK(a.freed_bytes == 100);
}

TEST_CASE("peak: a stale hint gives the transition a fresh read gives, and is brought up to date") {
  GlobalAccount with_hint;
  GlobalAccount fresh;
  measure::detail::AccountHint hint;  // all zero: right at first, stale after the others
  measure::detail::AccountHint other;
  const std::int64_t deltas[] = {100, 50, -100, 500, 10, -500, 200};
  for (std::size_t i = 0; i < sizeof deltas / sizeof deltas[0]; ++i) {
    CAPTURE(i);
    // Every other event comes from "another thread" (its own hint), so `hint` is stale for
    // half of them; a peak reset in the middle changes the mark behind both hints.
    if (i == 4) {
      with_hint.reset_peak();
      fresh.reset_peak();
    }
    PeakTransition expected = fresh.apply(deltas[i]);
    PeakTransition got = with_hint.apply(deltas[i], i % 2 == 0 ? hint : other);
    CHECK(got.old_mark == expected.old_mark);
    CHECK(got.new_mark == expected.new_mark);
    measure::detail::AccountHint& used = i % 2 == 0 ? hint : other;
    CHECK(static_cast<std::uint64_t>(used.word) == with_hint.live());
    CHECK(static_cast<std::uint64_t>(used.word >> 64) == with_hint.mark());
  }
  CHECK(with_hint.peak() == fresh.peak());
  CHECK(with_hint.live() == 260);
}

TEST_CASE("peak: a site untouched after the peak reports its live bytes") {
  Sim sim;
  SiteCounters a{}, b{};
  sim.alloc(a, 70);
  sim.alloc(b, 30);
  std::uint64_t mark = sim.account.mark();
  CHECK(a.contribution_at(mark) == 70);
  CHECK(b.contribution_at(mark) == 30);
}

TEST_CASE("peak: reset_peak starts a new maximum from the current live bytes") {
  Sim sim;
  SiteCounters a{}, b{};
  sim.alloc(a, 1000);
  sim.free(a, 1000);
  sim.alloc(b, 10);
  sim.account.reset_peak();
  CHECK(sim.account.peak() == 10);
  sim.alloc(a, 5);
  std::uint64_t mark = sim.account.mark();
  CHECK(sim.account.peak() == 15);
  CHECK(a.contribution_at(mark) == 5);
  CHECK(b.contribution_at(mark) == 10);
}

TEST_CASE("peak: one event can free at one site and allocate at another (realloc)") {
  Sim sim;
  SiteCounters old_site{}, new_site{};
  sim.alloc(old_site, 10);
  PeakTransition t = sim.account.apply(2000 - 10);
  old_site.on_event(t, false, 10);
  new_site.on_event(t, true, 2000);
  std::uint64_t mark = sim.account.mark();
  CHECK(sim.account.peak() == 2000);
  CHECK(old_site.contribution_at(mark) == 0);
  CHECK(new_site.contribution_at(mark) == 2000);
}

TEST_CASE("peak: per-thread parts add up to exact totals with two threads") {
  GlobalAccount account;
  constexpr int rounds = 200000;
  std::vector<SiteCounters> sites(2);  // one site each, owned by one thread
  auto work = [&](SiteCounters& s, std::uint64_t size) {
    for (int i = 0; i < rounds; ++i) {
      s.on_event(account.apply(static_cast<std::int64_t>(size)), true, size);
      s.on_event(account.apply(-static_cast<std::int64_t>(size)), false, size);
    }
    s.on_event(account.apply(static_cast<std::int64_t>(size)), true, size);  // one stays live
  };
  std::thread a(work, std::ref(sites[0]), 16);
  std::thread b(work, std::ref(sites[1]), 48);
  a.join();
  b.join();
  std::uint64_t mark = account.mark();
  CHECK(account.live() == 64);
  CHECK(account.peak() >= 64);
  CHECK(account.peak() <= 128);  // never more than both threads' blocks at once
  std::int64_t total = sites[0].contribution_at(mark) + sites[1].contribution_at(mark);
  CHECK(total == static_cast<std::int64_t>(account.peak()));
}

namespace {

// A thread of the lease tests: its hint, its lease, and the blocks it holds.
struct LeasedThread {
  measure::detail::AccountHint hint;
  measure::detail::AccountLease lease;
  std::vector<std::int64_t> blocks;

  // The next event from random bits `r`: a new block of 1 to `max_size` bytes when
  // `allocate` (or nothing is held), else the free of a held one. Returns its delta.
  std::int64_t next(std::uint64_t r, bool allocate, std::uint64_t max_size) {
    if (blocks.empty() || allocate) {
      blocks.push_back(1 + static_cast<std::int64_t>(r % max_size));
      return blocks.back();
    }
    std::size_t at = (r >> 20) % blocks.size();
    std::int64_t delta = -blocks[at];
    blocks[at] = blocks.back();
    blocks.pop_back();
    return delta;
  }
};

std::uint64_t next_random(std::uint64_t& state) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

}  // namespace

TEST_CASE("peak: events under leases give the transitions, live bytes and peak of one shared word") {
  // Two "threads" take turns at random in one order; a reference account without leases
  // sees the same events. Every transition must match: an event under a lease claims the
  // mark does not move, and the lease must have been revoked before any event that moves it.
  GlobalAccount leased;
  GlobalAccount reference;
  LeasedThread threads[2];
  leased.enlist(threads[0].lease);
  leased.enlist(threads[1].lease);
  std::uint64_t random = 0x9e3779b97f4a7c15ULL;
  std::uint64_t under_lease = 0;
  std::uint64_t grants_seen = 0;
  for (int i = 0; i < 200000; ++i) {
    CAPTURE(i);
    LeasedThread& t = threads[next_random(random) % 2];
    std::uint64_t r = next_random(random);
    // Bursts of allocations and frees, so the live bytes wander up to new peaks and back.
    bool grow = ((static_cast<std::uint64_t>(i) / 5000) % 3) != 2;
    std::int64_t delta = t.next(r, r % 100 < (grow ? 55U : 40U), 3000);
    std::uint64_t headroom = t.lease.headroom();
    under_lease += headroom != 0 && (delta < 0 || static_cast<std::uint64_t>(delta) <= headroom) ? 1 : 0;
    PeakTransition expected = reference.apply(delta);
    PeakTransition got = leased.event(delta, t.hint, t.lease);
    grants_seen += headroom == 0 && t.lease.headroom() != 0 ? 1 : 0;
    REQUIRE(got.old_mark == expected.old_mark);
    REQUIRE(got.new_mark == expected.new_mark);
    if (i % 9973 == 0) {
      REQUIRE(leased.live() == reference.live());  // recalls the leases
    }
    if (i % 50021 == 0) {
      leased.reset_peak();
      reference.reset_peak();
    }
  }
  CHECK(leased.peak() == reference.peak());
  CHECK(leased.live() == reference.live());
  CHECK(under_lease > 100000);  // most events stayed off the shared word
  CHECK(grants_seen > 10);
}

TEST_CASE("peak: a lease is granted only far below the peak and comes back whole") {
  GlobalAccount account;
  LeasedThread t;
  account.enlist(t.lease);
  account.event(100000, t.hint, t.lease);  // the peak: 100000
  CHECK(t.lease.headroom() == 0);
  account.event(-98000, t.hint, t.lease);  // 2000 live, 98000 below the peak: a quarter of it is lent
  CHECK(t.lease.headroom() == 98000 / 4);
  std::uint64_t mark = account.mark();
  PeakTransition under = account.event(5000, t.hint, t.lease);
  CHECK(under.old_mark == mark);
  CHECK(under.new_mark == mark);
  CHECK(t.lease.headroom() == 98000 / 4 - 5000);
  account.event(-5000, t.hint, t.lease);
  CHECK(t.lease.headroom() == 98000 / 4);
  CHECK(account.live() == 2000);  // recalled
  CHECK(t.lease.headroom() == 0);
  CHECK(account.peak() == 100000);
  // After a recall the account is closed until an event finds no lease out and room below
  // the peak; then it lends again.
  account.event(1, t.hint, t.lease);
  CHECK(t.lease.headroom() == (100000 - 2001) / 4);
  account.give_back(t.lease);
  CHECK(t.lease.headroom() == 0);
  CHECK(account.live() == 2001);
  // A peak reset recalls, then starts from the exact live bytes.
  account.event(1, t.hint, t.lease);
  CHECK(t.lease.headroom() != 0);
  account.reset_peak();
  CHECK(t.lease.headroom() == 0);
  CHECK(account.peak() == 2002);
  account.event(10, t.hint, t.lease);  // a new peak, though a lease was out a moment ago
  CHECK(account.peak() == 2012);
}

TEST_CASE("peak: an allocation that would pass the peak revokes another thread's lease first") {
  GlobalAccount account;
  LeasedThread a;
  LeasedThread b;
  account.enlist(a.lease);
  account.enlist(b.lease);
  SiteCounters site_a{}, site_b{};
  auto event = [&](LeasedThread& t, SiteCounters& s, std::int64_t delta) {
    s.on_event(account.event(delta, t.hint, t.lease), delta > 0,
               static_cast<std::uint64_t>(delta > 0 ? delta : -delta));
  };
  event(a, site_a, 80000);
  event(a, site_a, -80000);  // 0 live; a holds 20000 of headroom
  event(b, site_b, 30000);   // through the word (b has no lease); b is lent (80000-30000-20000)/4
  CHECK(a.lease.headroom() == 20000);
  CHECK(b.lease.headroom() == 7500);
  event(a, site_a, 15000);  // under a's lease: 45000 live, the word says 30000 + 27500
  event(b, site_b, 7000);   // under b's lease: 52000 live
  event(b, site_b, 29000);  // past b's lease: 81000 live, a new peak once a's lease is back
  CHECK(a.lease.headroom() == 0);
  CHECK(account.peak() == 81000);
  CHECK(account.live() == 81000);
  std::uint64_t mark = account.mark();
  CHECK(site_a.contribution_at(mark) == 15000);
  CHECK(site_b.contribution_at(mark) == 66000);
}

TEST_CASE("peak: leased events from two threads keep live bytes, peak and contributions exact") {
  GlobalAccount account;
  constexpr int rounds = 100000;
  LeasedThread threads[2];
  std::vector<SiteCounters> sites(2);
  account.enlist(threads[0].lease);
  account.enlist(threads[1].lease);
  std::int64_t most[2] = {0, 0};
  auto work = [&](int w) {
    LeasedThread& t = threads[w];
    SiteCounters& s = sites[static_cast<std::size_t>(w)];
    std::uint64_t random = 0x1234567ULL + static_cast<std::uint64_t>(w);
    std::int64_t live = 0;
    for (int i = 0; i < rounds; ++i) {
      std::uint64_t r = next_random(random);
      std::int64_t delta = t.next(r, r % 2 == 0 || (i % 20000 < 2000 && r % 5 != 0), 4000);
      live += delta;
      most[w] = std::max(most[w], live);
      auto bytes = static_cast<std::uint64_t>(delta > 0 ? delta : -delta);
      s.on_event(account.event(delta, t.hint, t.lease), delta > 0, bytes);
    }
  };
  std::thread a(work, 0);
  std::thread b(work, 1);
  a.join();
  b.join();
  std::int64_t end = 0;
  for (LeasedThread& t : threads) {
    for (std::int64_t block : t.blocks) {
      end += block;
    }
  }
  CHECK(account.live() == static_cast<std::uint64_t>(end));
  auto peak = static_cast<std::int64_t>(account.peak());
  CHECK(peak >= std::max(most[0], most[1]));
  CHECK(peak <= most[0] + most[1]);
  std::uint64_t mark = account.mark();
  CHECK(sites[0].contribution_at(mark) + sites[1].contribution_at(mark) == peak);
}

namespace {
GlobalAccount* g_interrupted_account = nullptr;
std::atomic<std::uint64_t> g_handler_reads{0};

void read_live_in_handler(int) {
  (void)g_interrupted_account->live();  // as a handler that ends the program and writes the capture
  g_handler_reads.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

TEST_CASE("peak: a signal handler reading the live bytes inside the thread's own account step does not hang") {
  // Every event here goes through the word: it takes the thread's lease back (an exchange),
  // and the CAS lends a new one. A timer interrupts those steps thousands of times with a
  // handler that recalls every lease; it must not wait for the one this thread holds.
  GlobalAccount account;
  g_interrupted_account = &account;
  LeasedThread t;
  account.enlist(t.lease);
  account.event(1 << 20, t.hint, t.lease);
  account.event(-(1 << 20), t.hint, t.lease);
  std::atomic<bool> done{false};
  // The watchdog blocks the timer's signal (it inherits the mask), so it never runs the handler.
  sigset_t alarm_only;
  sigemptyset(&alarm_only);
  sigaddset(&alarm_only, SIGALRM);
  sigset_t mask = {};
  REQUIRE(pthread_sigmask(SIG_BLOCK, &alarm_only, &mask) == 0);
  std::thread watchdog([&] {
    for (int i = 0; i < 100 && !done.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!done.load()) {
      std::fputs("peak_test: a recall in a signal handler hung\n", stderr);
      std::_Exit(1);
    }
  });
  REQUIRE(pthread_sigmask(SIG_SETMASK, &mask, nullptr) == 0);
  struct sigaction action = {};
  action.sa_handler = read_live_in_handler;
  sigemptyset(&action.sa_mask);
  struct sigaction previous = {};
  REQUIRE(sigaction(SIGALRM, &action, &previous) == 0);
  itimerval every = {{0, 20}, {0, 20}};
  REQUIRE(setitimer(ITIMER_REAL, &every, nullptr) == 0);
  for (int i = 0; i < 400000 && g_handler_reads.load() < 3000; ++i) {
    account.event(300 * 1024, t.hint, t.lease);
    account.event(-300 * 1024, t.hint, t.lease);
  }
  itimerval off = {};
  setitimer(ITIMER_REAL, &off, nullptr);
  sigaction(SIGALRM, &previous, nullptr);
  done.store(true);
  watchdog.join();
  CHECK(g_handler_reads.load() > 100);
  CHECK(account.inexact_recalls() > 0);  // the handler read inside the windows, and said so
  CHECK(account.live() == 0);
  CHECK(account.peak() == 1 << 20);
}
