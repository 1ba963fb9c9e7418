// Live bytes and resident memory over the run, in a fixed number of points however long the
// run lasts: what the report's chart and `--format timeline-svg` draw.
//
// The runtime's background thread samples the global account every interval. Each point
// stands for one span of `resolution` nanoseconds and keeps the highest live bytes and
// resident memory sampled in it (so no spike disappears from the picture), at the time its
// live bytes were highest. When the points are full, neighbours merge in pairs and the
// resolution doubles: a run of a millisecond and a run of a year both end with between
// capacity/2 and capacity points, spread evenly over the run. The global peak is exact (the
// account's); the timeline records the interval in which it was reached.
#pragma once

#include <atomic>
#include <cstdint>

#include "support/spinlock.h"

namespace measure::detail {

struct TimelinePoint {
  std::uint64_t time_ns = 0;  // since the start of recording (monotonic)
  std::uint64_t live_bytes = 0;
  std::uint64_t resident_bytes = 0;
};

/// The peak of live bytes and when it was reached: after `after_ns`, at or before `before_ns`.
struct TimelinePeak {
  std::uint64_t bytes = 0;
  std::uint64_t after_ns = 0;
  std::uint64_t before_ns = 0;
};

class Timeline {
 public:
  static constexpr std::uint32_t capacity = 1024;
  static constexpr std::uint64_t first_interval_ns = 1'000'000;
  /// The sampler's sleep stops doubling here (about 35 minutes), so a program killed by the
  /// OOM killer still has its last half hour in the last checkpoint; the resolution of the
  /// points keeps doubling.
  static constexpr std::uint64_t max_sleep_ns = first_interval_ns << 21;

  /// How long the sampler should sleep before its next sample().
  std::uint64_t sleep_ns() const noexcept {
    std::uint64_t r = m_resolution_ns.load(std::memory_order_relaxed);
    return r < max_sleep_ns ? r : max_sleep_ns;
  }

  /// Adds a sample (the background thread, or a capture's writer). `peak` is the account's
  /// peak so far: when it grew since the previous sample, the peak was reached in between.
  /// Never allocates, never fails.
  void sample(TimelinePoint point, std::uint64_t peak) noexcept;

  /// Copies the points into `out` (room for `capacity`), the peak into `*peak`, the span
  /// each point stands for into `*resolution_ns`, and returns how many points there are.
  /// Safe against a concurrent sample().
  std::uint32_t copy(TimelinePoint* out, TimelinePeak* peak, std::uint64_t* resolution_ns) const noexcept;

  /// Starts over, with time 0 at the new start (a followed fork child, whose lock may have
  /// been held by a thread that does not exist there).
  void reset() noexcept;

 private:
  void merge_pairs() noexcept;

  mutable SpinLock m_lock;
  std::atomic<std::uint64_t> m_resolution_ns{first_interval_ns};
  std::uint32_t m_count = 0;
  std::uint64_t m_previous_ns = 0;  // time of the previous sample
  std::uint64_t m_span_start = 0;   // where the last point's span begins
  TimelinePeak m_peak;
  TimelinePoint m_points[capacity];
};

}  // namespace measure::detail
