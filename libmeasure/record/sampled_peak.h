// The process peak of sampled and counters modes. Their events write only memory the calling
// thread owns (no shared word per event, see record/peak.h for exact mode's), so no event
// knows the process's live bytes: they are the sum of the threads' exact counters at the
// moment someone adds them up. The peak is the highest such sum seen when the runtime looks:
// at a sample point (sampled mode), a timeline tick, a capture write and an API read. It is a
// lower bound of the true peak, equal to it when the live bytes were at their highest at one
// of those moments; reports say "at least" and "sampled".
#pragma once

#include <atomic>
#include <cstdint>

namespace measure::detail {

class SampledPeak {
 public:
  /// Offers the live bytes seen now; returns the peak afterwards. Any thread, lock-free: a
  /// compare-and-swap only when `live` is a new high.
  std::uint64_t observe(std::uint64_t live) noexcept {
    std::uint64_t peak = m_peak.load(std::memory_order_relaxed);
    while (live > peak) {
      if (m_peak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
        return live;
      }
    }
    return peak;
  }
  std::uint64_t peak() const noexcept { return m_peak.load(std::memory_order_relaxed); }
  /// The peak becomes `live`: tracemalloc's reset_peak, and a forked child's start.
  void reset(std::uint64_t live) noexcept { m_peak.store(live, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> m_peak{0};
};

}  // namespace measure::detail
