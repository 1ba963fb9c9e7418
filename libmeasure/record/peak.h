// Exact global live bytes and peak, and each call site's contribution at the peak, without a
// lock. Live bytes and a "peak mark" share one 16-byte word updated by a single
// compare-and-swap, which puts every event in one total order. The mark changes exactly when
// a new peak is reached (or the peak is reset), so an event can tell whether a peak happened
// between a site's previous event and itself, and the site's contribution at that peak is
// then simply its live bytes before the event. Each thread keeps its own counters per site
// (SiteCounters).
//
// Leases. One shared word per event costs a cache-line transfer per event as soon as two
// threads allocate. But the order only matters near the peak: while the live bytes stay
// below it, no event can be a peak and every event sees the same mark. So when the live
// bytes are far below the peak, the account lends a thread headroom (a lease): the word
// counts the headroom as live, and the thread spends it on allocations and refills it with
// frees on a word of its own, without touching the shared one. The word's live bytes are
// then an upper bound of the true ones, never above the peak, so no peak is missed. An event
// that would take the word above the peak while leases are out first closes the account
// to new leases and revokes every lease (an atomic exchange on each lease word: an owner's
// next step under it fails and goes to the word); with none out, the word is exact again
// and the event decides the peak as before. A peak therefore never happens while a lease
// holds, and an event under a lease carries the lease's mark, exactly as if it had gone
// through the word. Reading the live bytes (live()) and resetting the peak recall too.
#pragma once

#include <atomic>
#include <cstdint>

namespace measure::detail {

__extension__ using uint128 = unsigned __int128;

struct PeakTransition {
  std::uint64_t old_mark;  // mark before this event
  std::uint64_t new_mark;  // mark after it; differs from old_mark when this event is a new peak
};

/// One thread's guess of the account word: the value its own last event left there. Owner
/// thread only.
struct AccountHint {
  alignas(16) uint128 word = 0;
};

/// Headroom under the peak that the account lent one thread (GlobalAccount, "Leases"). The
/// owner spends it on its allocations and refills it with its frees, on a word of its own;
/// another thread may revoke it at any time, so every change is one atomic step and fails
/// once the lease is revoked. States live as long as the process (a thread's state is
/// pooled, never freed), so the account can keep a list of them.
class AccountLease {
 public:
  /// Takes an event of `delta` bytes (allocation > 0, free < 0) under the lease. False, with
  /// nothing changed, when there is no lease, it has too little headroom, a free would
  /// raise it above its limit, or another thread revoked it: the event then goes to the
  /// account. Owner thread only.
  bool take(std::int64_t delta) noexcept {
    std::uint64_t bytes = m_bytes.load(std::memory_order_relaxed);
    std::uint64_t next = bytes - static_cast<std::uint64_t>(delta);
    if (bytes == none || (delta > 0 ? bytes < static_cast<std::uint64_t>(delta) : next > m_limit)) {
      return false;
    }
    return m_bytes.compare_exchange_strong(bytes, next, std::memory_order_acq_rel, std::memory_order_relaxed);
  }
  /// The headroom left; 0 without a lease. Any thread (a relaxed read).
  std::uint64_t headroom() const noexcept {
    std::uint64_t bytes = m_bytes.load(std::memory_order_relaxed);
    return bytes == none ? 0 : bytes;
  }

 private:
  friend class GlobalAccount;
  static constexpr std::uint64_t none = ~std::uint64_t{0};

  std::atomic<std::uint64_t> m_bytes{none};  // headroom left; none: no lease
  std::uint64_t m_mark = 0;                  // owner: the mark when granted (no peak before it is revoked)
  std::uint64_t m_limit = 0;                 // owner: frees refill up to this (twice the grant)
  AccountLease* m_next = nullptr;            // the account's list, written once
  bool m_enlisted = false;                   // owner
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
  /// guesses right unless a peak reset, a recall, a lease given back or a fork
  /// changed the word since its last apply. Updates `hint` to the word it leaves.
  PeakTransition apply(std::int64_t delta, AccountHint& hint) noexcept;
  /// One event of a thread that holds `lease` (enlisted): under the lease when it can, on no
  /// shared cache line; else through the word, first giving back what is left of the lease
  /// and, when the live bytes are far enough below the peak, taking a new one in the same
  /// compare-and-swap. Inline: every event of every thread calls it.
  PeakTransition event(std::int64_t delta, AccountHint& hint, AccountLease& lease) noexcept {
    if (__builtin_expect(lease.take(delta), 1)) {
      return PeakTransition{lease.m_mark, lease.m_mark};
    }
    return apply_word(delta, hint, lease);
  }
  /// Adds `lease` to the leases a recall revokes. Once per lease, before its first event.
  void enlist(AccountLease& lease) noexcept;
  /// Gives back what is left of `lease` (its thread exits).
  void give_back(AccountLease& lease) noexcept;
  /// Sets the peak to the current live bytes (tracemalloc's reset_peak). Recalls the leases.
  void reset_peak() noexcept;
  /// The exact live bytes; recalls the leases when any is out (they overstate them).
  std::uint64_t live() noexcept;
  std::uint64_t peak() const noexcept;
  /// The current mark; compare with SiteCounters::peak_mark.
  std::uint64_t mark() const noexcept;
  /// How many times a recall gave up with a lease still out (see recall()), so that live
  /// bytes or a peak were decided on a word that may overstate them by its headroom.
  std::uint64_t inexact_recalls() const noexcept { return m_inexact_recalls.load(std::memory_order_relaxed); }
  /// Restores a fresh state and forgets every lease (forked child that starts its own capture:
  /// the other threads are gone).
  void reset() noexcept;

 private:
  /// apply's loop: gives back what is left of `lease` and, if it is enlisted, may grant it anew.
  PeakTransition apply_word(std::int64_t delta, AccountHint& hint, AccountLease& lease) noexcept;
  /// Closes the account to new leases and revokes every lease, until none is out: true, and
  /// `word` is the word as it was then. False (counted in inexact_recalls) on a thread
  /// interrupted by a signal handler inside the account while it held one lease's headroom
  /// unsettled, where waiting for that one would never end; and after two seconds of
  /// waiting for another thread's (one stopped in a debugger between two instructions of
  /// the account), so that nothing waits forever. Leases may then still be out, and the
  /// live bytes in `word` overstate the true ones by their headroom.
  bool recall(uint128* word) noexcept;
  /// Takes `lease` back and subtracts what was left of it (its headroom and its place in the
  /// count), unless another thread took it first. `unsettled_after`: this thread's state
  /// afterwards (see t_unsettled in peak.cpp).
  void revoke(AccountLease& lease, bool unsettled_after) noexcept;
  /// Subtracts `value` from the low half in one atomic step: an 8-byte atomic subtract on that
  /// half, about half the cost of a 16-byte compare-and-swap here. Exact: both are locked
  /// instructions on one 16-byte-aligned word, so the subtract takes its place in the same
  /// total order and a CAS sees it whole or not at all; and nothing that lowers the live bytes
  /// moves the mark. Where the 16-byte CAS is not one hardware instruction, and under
  /// ThreadSanitizer (which runs 16-byte atomics under a lock of its own that an 8-byte
  /// subtract does not take), it is a compare-and-swap loop instead.
  void lower(std::uint64_t value) noexcept;
  /// The number of leases out, from the low half of a word.
  static constexpr std::uint64_t leases_out(std::uint64_t low_half) noexcept {
    return (low_half >> 48) & lease_count_max;
  }

  static constexpr std::uint64_t peak_mask = (1ULL << 48) - 1;  // 256 TiB
  static constexpr std::uint64_t generation_one = 1ULL << 48;
  // The low half: live bytes plus the headroom out on leases (bits 0-47), the number of
  // leases out (bits 48-62), and "closed to new leases" (bit 63).
  static constexpr std::uint64_t live_mask = peak_mask;
  static constexpr std::uint64_t lease_one = 1ULL << 48;
  static constexpr std::uint64_t lease_count_max = (1ULL << 15) - 1;
  static constexpr std::uint64_t closed_bit = 1ULL << 63;
  // A lease is granted only when the live bytes are at least this far below the peak, and
  // takes a quarter of the distance: smaller ones would come back too often to pay.
  static constexpr std::uint64_t lease_min_gap = 4096;

  // low: see above, high: mark (generation<<48 | peak). A cache line of its own: every
  // event of every thread outside a lease writes it, and a neighbour read on every
  // allocation (the module generation was one) would move with it between the cores.
  alignas(64) uint128 m_word = 0;
  alignas(64) std::atomic<AccountLease*> m_leases{nullptr};  // read by recalls only
  std::atomic<std::uint64_t> m_inexact_recalls{0};
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
  // made since it last asked for one (record/stack_palette.h).
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
