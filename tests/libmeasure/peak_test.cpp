// The global peak and each site's contribution at it, computed lazily per thread.
#include "capture/peak.h"

#include <thread>
#include <vector>

#include <doctest/doctest.h>

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
    CHECK(got.live_after == expected.live_after);
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

TEST_CASE("peak: frees without a site (release) lower the live bytes and never move the mark") {
  Sim sim;
  SiteCounters a{};
  sim.account.apply(300);  // an unsampled block: no site
  sim.alloc(a, 100);       // 400: the peak, a 100
  std::uint64_t mark = sim.account.mark();
  sim.account.release(300);
  CHECK(sim.account.mark() == mark);
  CHECK(sim.account.live() == 100);
  sim.alloc(a, 250);  // 350, below the peak
  sim.account.apply(40);
  CHECK(sim.account.peak() == 400);
  CHECK(a.contribution_at(sim.account.mark()) == 100);
  sim.alloc(a, 20);  // 410: a new peak, a 370
  CHECK(sim.account.peak() == 410);
  CHECK(a.contribution_at(sim.account.mark()) == 370);
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

TEST_CASE("peak: allocations without a site (reserve) reach the same peak as apply") {
  GlobalAccount by_apply;
  GlobalAccount by_reserve;
  const std::int64_t events[] = {100, 50, -120, 60, 100, -190, 5, 7, -12, 300, -1, 1};
  for (std::int64_t e : events) {
    std::uint64_t before = by_reserve.mark();
    by_apply.apply(e);
    if (e > 0) {
      by_reserve.reserve(static_cast<std::uint64_t>(e));
    } else {
      by_reserve.release(static_cast<std::uint64_t>(-e));
    }
    CAPTURE(e);
    CHECK(by_reserve.live() == by_apply.live());
    CHECK(by_reserve.peak() == by_apply.peak());
    CHECK(by_reserve.mark() == by_apply.mark());
    CHECK((by_reserve.mark() != before) == (e > 0 && by_reserve.peak() == by_reserve.live() &&
                                            GlobalAccount::peak_of(before) < by_reserve.live()));
  }
  CHECK(by_reserve.peak() == 300);
  by_reserve.reset_peak();
  CHECK(by_reserve.peak() == 300);  // live is 300 again after the last two events
  by_reserve.release(200);
  by_reserve.reserve(150);  // 250
  CHECK(by_reserve.peak() == 300);
  by_reserve.reserve(51);  // 301
  CHECK(by_reserve.peak() == 301);
}

TEST_CASE("peak: reserve and release from two threads keep live bytes exact") {
  GlobalAccount account;
  constexpr int rounds = 200000;
  auto work = [&](std::uint64_t size) {
    for (int i = 0; i < rounds; ++i) {
      account.reserve(size);
      account.release(size);
    }
    account.reserve(size);  // one stays live
  };
  std::thread a(work, 16);
  std::thread b(work, 48);
  a.join();
  b.join();
  CHECK(account.live() == 64);
  CHECK(account.peak() >= 64);
  CHECK(account.peak() <= 128);  // never more than both threads' blocks at once
}
