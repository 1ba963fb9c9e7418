// What each call stack allocated and freed in each interval of the run: what lets a report
// show one stretch of time (`measure report --from/--to`, the html page's time range).
// Exact mode only.
//
// The runtime's background thread closes an interval now and then: it sums every thread's
// counters per stack, as a capture's writer does, and keeps the stacks whose sums changed
// since the previous close, with the changes, coded as varints in the toolkit's own pages.
// Nothing of this runs on the allocation path. Two bounds hold however long the run lasts:
// - at most `capacity` intervals: when they are full, neighbours merge in pairs and the
//   interval length doubles, as the timeline's points do;
// - about `budget_bytes` of coded changes (8 MiB): past it, neighbours merge too (a program whose
//   many stacks all allocate in every interval ends with fewer, longer intervals).
// A close costs in proportion to the distinct stacks, as a checkpoint does, so the next one
// waits at least twenty times as long as the last one took: closes never take more than 5%
// of a core.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "format/byte_buffer.h"
#include "support/spinlock.h"

namespace measure::detail {

class Runtime;

class SiteIntervals {
 public:
  static constexpr std::uint32_t capacity = 64;
  static constexpr std::uint64_t first_length_ns = 1'000'000;
  static constexpr std::size_t budget_bytes = std::size_t{8} << 20;

  /// When the next close is due, in nanoseconds since the start of recording.
  std::uint64_t due_ns() const noexcept { return m_due_ns.load(std::memory_order_relaxed); }

  /// Ends the current interval at `now_ns` (since the start of recording) with what every
  /// thread's counters hold now, for the stacks below `stack_limit` (a capture's writer: those
  /// its stacks section holds; stacks made since count in the next interval). Threads may
  /// record meanwhile: a change seen late falls in the next interval. Out of memory, the
  /// intervals are dropped for the rest of the run (and no section is written). Safe against
  /// a concurrent close() or encode().
  void close(Runtime& rt, std::uint64_t now_ns, std::uint32_t stack_limit = UINT32_MAX) noexcept;

  /// Writes the intervals section into `out` (capture_format.h, `intervals`), naming only
  /// stacks below `stack_count` (those of the capture's stacks section; a close that ran
  /// after the section was written may have seen more); nothing when no interval was closed
  /// or memory ran out.
  void encode(format::ByteBuffer& out, std::uint32_t stack_count) const noexcept;

  /// The pages the intervals hold now (the toolkit's own memory).
  std::size_t memory_bytes() const noexcept;

  /// Starts over, with no interval (a followed fork child: its counters start over too, and
  /// the lock may have been held by a thread that does not exist there).
  void reset() noexcept;

 private:
  struct Interval {
    std::uint64_t end_ns;
    std::uint64_t toolkit_bytes;  // the toolkit's own memory at the close
    std::uint32_t sites;          // stacks that changed
    std::uint32_t stacks;         // the stack ids it looked at: below this
    std::size_t offset;           // where their changes start in m_changes
    std::size_t size;
  };
  void merge_pairs() noexcept;
  std::size_t memory_bytes_locked() const noexcept;
  bool make_buffers() noexcept;

  mutable SpinLock m_lock;
  std::atomic<std::uint64_t> m_due_ns{first_length_ns};
  std::uint64_t m_length_ns = first_length_ns;
  std::uint32_t m_count = 0;
  bool m_failed = false;
  Interval m_intervals[capacity] = {};
  // In pages of their own, made at the first close and never destroyed: the runtime outlives
  // every static destructor.
  format::ByteBuffer* m_changes = nullptr;   // every interval's changes, one after another
  format::ByteBuffer* m_previous = nullptr;  // per stack, its sums at the last close
};

}  // namespace measure::detail
