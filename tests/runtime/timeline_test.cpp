// The runtime's timeline: bounded points however many samples, merges that keep maxima, and
// the interval in which the peak was reached.
#include "runtime/timeline.h"

#include <memory>
#include <vector>

#include <doctest/doctest.h>

using measure::detail::Timeline;
using measure::detail::TimelinePeak;
using measure::detail::TimelinePoint;

namespace {

constexpr std::uint64_t ms = 1000000;

struct Copy {
  std::vector<TimelinePoint> points;
  TimelinePeak peak;
  std::uint64_t interval_ns = 0;
};

Copy copy_of(const Timeline& t) {
  Copy c;
  c.points.resize(Timeline::capacity);
  c.points.resize(t.copy(c.points.data(), &c.peak, &c.interval_ns));
  return c;
}

}  // namespace

TEST_CASE("timeline: points keep their span's maxima; full points merge in pairs and double the span") {
  auto t = std::make_unique<Timeline>();  // 24 KiB: not on the test's stack
  for (std::uint64_t i = 0; i < Timeline::capacity; ++i) {
    // Live bytes zigzag (high on odd samples), resident memory on even ones.
    t->sample({i * ms, i % 2 == 1 ? 1000 + i : i, i % 2 == 0 ? 5000 + i : 0}, 0);
  }
  Copy full = copy_of(*t);
  CHECK(full.points.size() == Timeline::capacity);
  CHECK(full.interval_ns == Timeline::first_interval_ns);

  // A sample inside the last point's span joins it, keeping the higher values.
  auto joined = std::make_unique<Timeline>();
  joined->sample({0, 10, 100}, 0);
  joined->sample({ms / 2, 30, 50}, 0);
  joined->sample({ms * 3 / 4, 20, 70}, 0);
  Copy j = copy_of(*joined);
  REQUIRE(j.points.size() == 1);
  CHECK(j.points[0].time_ns == ms / 2);
  CHECK(j.points[0].live_bytes == 30);
  CHECK(j.points[0].resident_bytes == 100);

  t->sample({Timeline::capacity * ms, 7, 8}, 0);
  Copy merged = copy_of(*t);
  REQUIRE(merged.points.size() == Timeline::capacity / 2 + 1);
  CHECK(merged.interval_ns == 2 * Timeline::first_interval_ns);
  for (std::uint64_t k = 0; k < Timeline::capacity / 2; ++k) {
    CAPTURE(k);
    // The pair (2k, 2k+1): the odd sample's live bytes are higher, so the point stands at its
    // time; the resident memory is the even sample's.
    CHECK(merged.points[k].time_ns == (2 * k + 1) * ms);
    CHECK(merged.points[k].live_bytes == 1000 + 2 * k + 1);
    CHECK(merged.points[k].resident_bytes == 5000 + 2 * k);
  }
  CHECK(merged.points.back().time_ns == Timeline::capacity * ms);
  CHECK(merged.points.back().live_bytes == 7);

  // A year of samples, each after the sleep the sampler is told, still fits in points spread
  // evenly over the run; the sleep stops growing at its limit, the points' span does not.
  std::uint64_t now = Timeline::capacity * ms;
  constexpr std::uint64_t year = 365ULL * 24 * 3600 * 1000 * ms;
  std::uint64_t samples = 0;
  while (now < year) {
    now += t->sleep_ns();
    t->sample({now, samples, samples}, 0);
    ++samples;
  }
  CHECK(t->sleep_ns() == Timeline::max_sleep_ns);
  CHECK(samples < 40000);  // the sampler woke some 26,000 times, not 30 billion
  Copy c = copy_of(*t);
  CHECK(c.points.size() > Timeline::capacity / 2);
  CHECK(c.points.size() <= Timeline::capacity);
  CHECK(c.interval_ns > Timeline::max_sleep_ns);
  CHECK(c.interval_ns * c.points.size() >= year);
  CHECK(c.points.front().time_ns < c.interval_ns);  // the first point is the run's first span
  CHECK(c.points.back().time_ns == now);
  for (std::size_t i = 1; i < c.points.size(); ++i) {
    CAPTURE(i);
    CHECK(c.points[i - 1].time_ns < c.points[i].time_ns);
    CHECK(c.points[i].time_ns - c.points[i - 1].time_ns <= 2 * c.interval_ns);
  }
}

TEST_CASE("timeline: the peak is placed between the sample before it grew and the one that saw it") {
  auto t = std::make_unique<Timeline>();
  t->sample({1 * ms, 10, 0}, 10);
  t->sample({2 * ms, 20, 0}, 25);  // the peak of 25 happened between 1 and 2 ms
  t->sample({3 * ms, 5, 0}, 25);   // no new peak
  Copy c = copy_of(*t);
  CHECK(c.peak.bytes == 25);
  CHECK(c.peak.after_ns == 1 * ms);
  CHECK(c.peak.before_ns == 2 * ms);

  t->sample({9 * ms, 40, 0}, 40);
  c = copy_of(*t);
  CHECK(c.peak.bytes == 40);
  CHECK(c.peak.after_ns == 3 * ms);
  CHECK(c.peak.before_ns == 9 * ms);
}

TEST_CASE("timeline: samples that took the lock out of clock order stay in time order; reset starts over") {
  auto t = std::make_unique<Timeline>();
  t->sample({5 * ms, 1, 1}, 1);
  t->sample({4 * ms, 2, 2}, 2);
  Copy c = copy_of(*t);
  REQUIRE(c.points.size() == 1);  // one span: the second sample joined the first
  CHECK(c.points[0].time_ns == 5 * ms);
  CHECK(c.points[0].live_bytes == 2);
  CHECK(c.peak.after_ns == 5 * ms);
  CHECK(c.peak.before_ns == 5 * ms);

  t->reset();
  c = copy_of(*t);
  CHECK(c.points.empty());
  CHECK(c.peak.bytes == 0);
  CHECK(c.interval_ns == Timeline::first_interval_ns);
}
