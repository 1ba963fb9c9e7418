// The capture's summary statistics as one thread counts them: allocations per power-of-two
// size class, the bytes of its temporary blocks, and its largest single allocations. Every
// mode keeps them (the sizes are exact in each); they cost the hot path a bit count, two
// additions and one comparison, all on memory the thread owns. Like the other counters of a
// thread's state they accumulate across the state's owners: the process's statistics are the
// sum over states (docs/reports.md, "Summary").
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>

#include "format/capture_format.h"
#include "record/peak.h"

namespace measure::detail {

/// One of the thread's largest allocations. `time_ns` is monotonic (platform::monotonic_ns).
struct LargestBlock {
  std::uint64_t size = 0;
  std::uint64_t time_ns = 0;
  std::uint32_t stack = 0;  // the stack id; StackTable::unknown_id when none was taken (light modes)
};

class ThreadSummary {
 public:
  /// Class 0 holds blocks of 0 bytes, class k (1..64) blocks of [2^(k-1), 2^k) bytes.
  static constexpr unsigned size_classes = 65;
  /// The largest allocations each thread keeps; the capture keeps as many of the process's.
  static constexpr unsigned largest_kept = format::summary_largest_kept;

  struct SizeClass {
    std::uint64_t count;
    std::uint64_t bytes;
  };

  /// The owner's allocation of `bytes` from `stack`. Owner thread only.
  __attribute__((always_inline)) void on_allocation(std::uint32_t stack, std::uint64_t bytes) noexcept {
    SizeClass& c = m_sizes[std::bit_width(bytes)];
    bump(c.count, 1);
    bump(c.bytes, bytes);
    if (__builtin_expect(bytes > m_largest_floor, 0)) {
      note_largest(stack, bytes);
    }
  }
  /// A block of `bytes` freed before its thread's next allocation. Owner thread only.
  void on_temporary(std::uint64_t bytes) noexcept { bump(m_temporary_bytes, bytes); }

  /// Reader side (any thread): class `c`'s counts, relaxed.
  SizeClass size_class(unsigned c) const noexcept {
    return SizeClass{load_relaxed(m_sizes[c].count), load_relaxed(m_sizes[c].bytes)};
  }
  std::uint64_t temporary_bytes() const noexcept { return load_relaxed(m_temporary_bytes); }
  /// Reader side (any thread): copies the kept blocks into `out` (room for largest_kept) and
  /// returns how many. A consistent copy: retried while the owner replaces an entry, and 0
  /// after a few failed tries (a thread allocating ever larger blocks without pause).
  unsigned copy_largest(LargestBlock* out) const noexcept;

  /// Forked child starting its own capture: everything back to zero. No other thread runs.
  void reset() noexcept;

 private:
  /// Keeps the block, replacing the smallest kept one when all slots are used. Out of line:
  /// after a thread's first largest_kept allocations it runs only for a new record size.
  __attribute__((noinline)) void note_largest(std::uint32_t stack, std::uint64_t bytes) noexcept;

  SizeClass m_sizes[size_classes] = {};
  std::uint64_t m_temporary_bytes = 0;
  // Allocations of at most this size cannot enter the kept ones: 0 until every slot is used,
  // then the smallest kept size (so among equal sizes the earliest blocks stay).
  std::uint64_t m_largest_floor = 0;
  std::uint32_t m_largest_count = 0;
  // Even while the kept blocks are consistent; odd while the owner writes one (a sequence
  // lock: readers copy and check it did not change).
  std::atomic<std::uint32_t> m_largest_version{0};
  LargestBlock m_largest[largest_kept] = {};
};

}  // namespace measure::detail
