#include "runtime/timeline.h"

#include <algorithm>

namespace measure::detail {
namespace {

// `into` keeps the higher of both: live bytes (with their time) and resident memory.
void keep_maxima(TimelinePoint& into, const TimelinePoint& other) noexcept {
  std::uint64_t resident = std::max(into.resident_bytes, other.resident_bytes);
  if (other.live_bytes > into.live_bytes) {
    into = other;
  }
  into.resident_bytes = resident;
}

}  // namespace

void Timeline::sample(TimelinePoint point, std::uint64_t peak) noexcept {
  SpinGuard guard(m_lock);
  // Two samplers (the background thread, a capture's writer) may read the clock in one order
  // and take the lock in the other.
  point.time_ns = std::max(point.time_ns, m_previous_ns);
  if (peak > m_peak.bytes) {
    m_peak.bytes = peak;
    m_peak.after_ns = m_previous_ns;
    m_peak.before_ns = point.time_ns;
  }
  m_previous_ns = point.time_ns;
  std::uint64_t resolution = m_resolution_ns.load(std::memory_order_relaxed);
  if (m_count > 0 && point.time_ns - m_span_start < resolution) {
    keep_maxima(m_points[m_count - 1], point);
    return;
  }
  if (m_count == capacity) {
    merge_pairs();
  }
  m_span_start = point.time_ns;
  m_points[m_count++] = point;
}

void Timeline::merge_pairs() noexcept {
  for (std::uint32_t i = 0; i < capacity / 2; ++i) {
    TimelinePoint merged = m_points[2 * i];
    keep_maxima(merged, m_points[2 * i + 1]);
    m_points[i] = merged;
  }
  m_count = capacity / 2;
  std::uint64_t resolution = m_resolution_ns.load(std::memory_order_relaxed);
  if (resolution <= UINT64_MAX / 2) {
    m_resolution_ns.store(resolution * 2, std::memory_order_relaxed);
  }
}

std::uint32_t Timeline::copy(TimelinePoint* out, TimelinePeak* peak, std::uint64_t* resolution_ns) const noexcept {
  SpinGuard guard(m_lock);
  std::copy(m_points, m_points + m_count, out);
  *peak = m_peak;
  *resolution_ns = m_resolution_ns.load(std::memory_order_relaxed);
  return m_count;
}

void Timeline::reset() noexcept {
  m_lock.reset_after_fork();
  SpinGuard guard(m_lock);
  m_count = 0;
  m_previous_ns = 0;
  m_span_start = 0;
  m_peak = TimelinePeak{};
  m_resolution_ns.store(first_interval_ns, std::memory_order_relaxed);
}

}  // namespace measure::detail
