// Exact global live bytes and peak, and each call site's contribution at the peak, without a
// lock. Live bytes and a "peak mark" share one 16-byte word updated by a single
// compare-and-swap, which puts every event in one total order. The mark changes exactly when
// a new peak is reached (or the peak is reset), so an event can tell whether a peak happened
// between a site's previous event and itself, and the site's contribution at that peak is
// then simply its live bytes before the event. Each thread keeps its own counters per site
// (SiteCounters), so the only shared write per event is the one CAS.
#pragma once

#include <cstdint>

namespace measure::detail {

__extension__ using uint128 = unsigned __int128;

struct PeakTransition {
  std::uint64_t old_mark;    // mark before this event
  std::uint64_t new_mark;    // mark after it; differs from old_mark when this event is a new peak
  std::uint64_t live_after;  // total live bytes after the event
};

/// One thread's guess of the account word: the value its own last event left there. Owner
/// thread only.
struct AccountHint {
  alignas(16) uint128 word = 0;
};

class GlobalAccount {
 public:
  /// Applies a change of live bytes. Never blocks; retries only when another thread's event
  /// lands between the read and the CAS.
  PeakTransition apply(std::int64_t delta) noexcept;
  /// The same, with the compare-and-swap first, expecting the word `hint` names; on a miss
  /// the failed CAS returns the true word and the next one uses it. Why: reading the word
  /// first fetches its line shared and the CAS must then take it from the other core again,
  /// two transfers per event when threads alternate; a wrong guess costs one. A thread alone
  /// guesses right unless an event without a site (reserve, release), a peak reset or a
  /// fork changed the word since its last apply. Updates `hint` to the word it leaves.
  PeakTransition apply(std::int64_t delta, AccountHint& hint) noexcept;
  /// A free whose event needs no mark (no site counters to update): lowers the live bytes
  /// with an 8-byte atomic add on their half of the word, about half the cost of apply's
  /// 16-byte compare-and-swap on this machine. Exact: both are locked instructions on one
  /// 16-byte-aligned word, so the add takes its place in the same total order and a CAS sees
  /// it whole or not at all; and a free never moves the mark, which changes only when live
  /// bytes reach a new peak or the peak is reset. Where the 16-byte CAS is not one hardware
  /// instruction, and under ThreadSanitizer (which runs 16-byte atomics under a lock of its
  /// own that an 8-byte add does not take), it takes apply's path instead.
  void release(std::uint64_t bytes) noexcept;
  /// An allocation whose event needs no mark (no site counters to update): raises the live
  /// bytes with an 8-byte atomic add, as release lowers them, and only when that makes a new
  /// peak raises the peak with a compare-and-swap. The peak stays exact: every allocation's
  /// live total, in the one order of the locked instructions, is compared with the peak,
  /// and the peak only ever takes such totals. The mark moves a moment after the add, not
  /// with it: a site event of another thread landing in between sees the peak on its next
  /// event instead, so sampled sites' peak contributions (estimates) may differ by that
  /// event; and a reset_peak landing in between may let this total, from before the reset,
  /// become the new peak. Falls back to apply() where release() does.
  void reserve(std::uint64_t bytes) noexcept;
  /// Sets the peak to the current live bytes (tracemalloc's reset_peak).
  void reset_peak() noexcept;
  std::uint64_t live() const noexcept;
  std::uint64_t peak() const noexcept;
  /// The current mark; compare with SiteCounters::peak_mark.
  std::uint64_t mark() const noexcept;
  /// Restores a fresh state (forked child that starts its own capture).
  void reset() noexcept;

  static constexpr std::uint64_t peak_of(std::uint64_t mark) noexcept { return mark & peak_mask; }

 private:
  /// Raises the peak to `live` unless it is already at least that high.
  void raise_peak(std::uint64_t live) noexcept;

  static constexpr std::uint64_t peak_mask = (1ULL << 48) - 1;  // 256 TiB
  static constexpr std::uint64_t generation_one = 1ULL << 48;
  // low: live bytes, high: mark (generation<<48 | peak). A cache line of its own: every
  // event of every thread writes it, and a neighbour read on every allocation (the module
  // generation was one) would move with it between the cores.
  alignas(64) uint128 m_word = 0;
};

/// Counters of one call site kept by one thread. Only the owning thread writes; readers on
/// other threads (reports, snapshots) use relaxed loads, so values are never torn.
struct alignas(64) SiteCounters {
  std::uint64_t alloc_count;
  std::uint64_t alloc_bytes;
  std::uint64_t free_count;
  std::uint64_t freed_bytes;
  std::uint64_t temporary_count;
  std::int64_t peak_bytes;  // this thread's part of the site's live bytes at the peak of peak_mark
  std::uint64_t peak_mark;
  // Exact mode, owner only: the stack's palette index (0: none yet) and the allocations
  // made since it last asked for one (capture/stack_palette.h).
  std::uint32_t palette_index;
  std::uint32_t palette_wait;

  /// Records an allocation or a free of `bytes` that the account ordered as `t`; `count`
  /// blocks (more than 1 for a sample that stands for several). Inline (below): every event
  /// calls it.
  inline void on_event(const PeakTransition& t, bool allocation, std::uint64_t bytes, std::uint64_t count = 1) noexcept;
  /// This thread's part of the site's live bytes at the peak whose mark is `final_mark`.
  std::int64_t contribution_at(std::uint64_t final_mark) const noexcept;
};

/// Relaxed single-writer updates, readable from other threads without tearing.
inline void bump(std::uint64_t& field, std::uint64_t delta) noexcept {
  __atomic_store_n(&field, __atomic_load_n(&field, __ATOMIC_RELAXED) + delta, __ATOMIC_RELAXED);
}
inline std::uint64_t load_relaxed(const std::uint64_t& field) noexcept {
  return __atomic_load_n(&field, __ATOMIC_RELAXED);
}
inline std::int64_t load_relaxed(const std::int64_t& field) noexcept {
  return __atomic_load_n(&field, __ATOMIC_RELAXED);
}
inline void store_relaxed(std::int64_t& field, std::int64_t value) noexcept {
  __atomic_store_n(&field, value, __ATOMIC_RELAXED);
}
inline void store_relaxed(std::uint64_t& field, std::uint64_t value) noexcept {
  __atomic_store_n(&field, value, __ATOMIC_RELAXED);
}

inline void SiteCounters::on_event(const PeakTransition& t, bool allocation, std::uint64_t bytes,
                                   std::uint64_t count) noexcept {
  std::int64_t live_before =
      static_cast<std::int64_t>(load_relaxed(alloc_bytes)) - static_cast<std::int64_t>(load_relaxed(freed_bytes));
  if (peak_mark != t.old_mark) {
    // A peak (or reset) happened after this site's previous event and before this one.
    store_relaxed(peak_bytes, live_before);
  }
  std::int64_t delta = static_cast<std::int64_t>(bytes);
  if (allocation) {
    bump(alloc_count, count);
    bump(alloc_bytes, bytes);
  } else {
    bump(free_count, count);
    bump(freed_bytes, bytes);
    delta = -delta;
  }
  if (t.new_mark != t.old_mark) {
    store_relaxed(peak_bytes, live_before + delta);  // this event is the peak
  }
  store_relaxed(peak_mark, t.new_mark);
}

}  // namespace measure::detail
