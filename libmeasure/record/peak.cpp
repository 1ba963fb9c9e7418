#include "record/peak.h"

#include "platform/platform.h"

namespace measure::detail {
namespace {

using u128 = uint128;

constexpr std::uint64_t low(u128 w) noexcept {
  return static_cast<std::uint64_t>(w);
}
constexpr std::uint64_t high(u128 w) noexcept {
  return static_cast<std::uint64_t>(w >> 64);
}
constexpr u128 make(std::uint64_t lo, std::uint64_t hi) noexcept {
  return static_cast<u128>(hi) << 64 | lo;
}

// Two plain loads may tear; the CAS that follows detects it and supplies the true value.
u128 read_word(const u128* word) noexcept {
  auto* halves = reinterpret_cast<const std::uint64_t*>(word);
  return make(__atomic_load_n(&halves[0], __ATOMIC_RELAXED), __atomic_load_n(&halves[1], __ATOMIC_RELAXED));
}

// Set while this thread holds one lease's headroom that the word counts but no lease word
// shows: between taking a lease back (an exchange) and subtracting it or folding it into a
// CAS, and between a CAS that grants a lease and the store that hands it over. A recall
// waits for such headroom on other threads (a few instructions away). On this thread it
// cannot (a signal handler that ends the program and writes the capture, interrupting that
// window): it then waits only for the others, and lets this one stay out.
__thread bool t_unsettled __attribute__((tls_model("initial-exec"))) = false;

constexpr std::uint64_t recall_patience_ns = 2'000'000'000;

void set_unsettled(bool value) noexcept {
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  t_unsettled = value;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

}  // namespace

PeakTransition GlobalAccount::apply(std::int64_t delta) noexcept {
  AccountHint hint{read_word(&m_word)};
  return apply(delta, hint);
}

PeakTransition GlobalAccount::apply(std::int64_t delta, AccountHint& hint) noexcept {
  AccountLease none;  // not enlisted: never granted
  return apply_word(delta, hint, none);
}

PeakTransition GlobalAccount::apply_word(std::int64_t delta, AccountHint& hint, AccountLease& lease) noexcept {
  // What is left of the thread's lease comes back in the same CAS (its headroom and its
  // place in the count), unless a recall took it first.
  std::uint64_t returned = 0;
  if (lease.m_bytes.load(std::memory_order_relaxed) != AccountLease::none) {
    set_unsettled(true);
    std::uint64_t left = lease.m_bytes.exchange(AccountLease::none, std::memory_order_acq_rel);
    returned = left != AccountLease::none ? left + lease_one : 0;
    set_unsettled(returned != 0);
  }
  u128 expected = hint.word;
  bool recalled_all = true;  // false: a recall gave up with a lease out (see recall())
  for (;;) {
    std::uint64_t rest = low(expected) - returned;
    std::uint64_t live = (rest & live_mask) + static_cast<std::uint64_t>(delta);
    std::uint64_t leases = leases_out(rest);
    bool closed = (rest & closed_bit) != 0;
    std::uint64_t mark = high(expected);
    std::uint64_t peak = mark & peak_mask;
    std::uint64_t next_mark = mark;
    if (delta > 0 && live > peak) {
      if (leases != 0 && recalled_all) {
        // The word overstates the live bytes by the headroom out on leases: only with none
        // out can it tell whether this is a peak.
        if (returned != 0) {
          lower(returned);
          returned = 0;
          set_unsettled(false);
        }
        recalled_all = recall(&expected);
        continue;
      }
      next_mark = (mark & ~peak_mask) | (live & peak_mask);
    }
    std::uint64_t grant = 0;
    if (lease.m_enlisted && live + lease_min_gap <= peak && (!closed || leases == 0) && leases < lease_count_max) {
      grant = (peak - live) / 4;
      closed = false;
    }
    u128 desired = make((live + grant) | (leases + (grant != 0 ? 1 : 0)) << 48 | (closed ? closed_bit : 0), next_mark);
    set_unsettled(grant != 0 || returned != 0);
    u128 seen = __sync_val_compare_and_swap(&m_word, expected, desired);
    if (seen == expected) {
      hint.word = desired;
      if (grant != 0) {
        // Counted in the word from the CAS above; a recall between the two waits for it.
        lease.m_mark = next_mark;
        lease.m_limit = 2 * grant;
        lease.m_bytes.store(grant, std::memory_order_release);
      }
      set_unsettled(false);
      return PeakTransition{mark, next_mark};
    }
    set_unsettled(returned != 0);  // the grant did not happen
    expected = seen;
  }
}

void GlobalAccount::lower(std::uint64_t value) noexcept {
#if defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16) && !defined(__SANITIZE_THREAD__)
  __atomic_fetch_sub(reinterpret_cast<std::uint64_t*>(&m_word), value, __ATOMIC_ACQ_REL);
#else
  u128 expected = read_word(&m_word);
  for (;;) {
    u128 seen = __sync_val_compare_and_swap(&m_word, expected, make(low(expected) - value, high(expected)));
    if (seen == expected) {
      return;
    }
    expected = seen;
  }
#endif
}

bool GlobalAccount::recall(uint128* word) noexcept {
  // Headroom this thread holds unsettled (an interrupted window, see t_unsettled) stays in
  // the count until the interrupted code goes on: at most one lease.
  std::uint64_t own = t_unsettled ? 1 : 0;
  u128 expected = read_word(&m_word);
  while ((low(expected) & closed_bit) == 0) {
    u128 seen = __sync_val_compare_and_swap(&m_word, expected, make(low(expected) | closed_bit, high(expected)));
    expected = seen == expected ? make(low(expected) | closed_bit, high(expected)) : seen;
  }
  std::uint64_t started = 0;
  for (unsigned pass = 0;; ++pass) {
    for (AccountLease* l = m_leases.load(std::memory_order_acquire); l != nullptr; l = l->m_next) {
      if (l->m_bytes.load(std::memory_order_relaxed) != AccountLease::none) {
        revoke(*l, own != 0);
      }
    }
    *word = read_word(&m_word);
    std::uint64_t out = leases_out(low(*word));
    if (out == 0) {
      return true;
    }
    if (out <= own) {
      m_inexact_recalls.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    // A lease granted by a CAS but not yet stored in its word (a few instructions), or one
    // granted after the account reopened: the next pass takes it.
    if (pass != 0) {
      if (pass == 1) {
        started = platform::monotonic_ns();
      } else if (platform::monotonic_ns() - started > recall_patience_ns) {
        m_inexact_recalls.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
      platform::yield_cpu();
    }
  }
}

void GlobalAccount::enlist(AccountLease& lease) noexcept {
  if (lease.m_enlisted) {
    return;
  }
  lease.m_enlisted = true;
  AccountLease* head = m_leases.load(std::memory_order_relaxed);
  do {
    lease.m_next = head;
  } while (!m_leases.compare_exchange_weak(head, &lease, std::memory_order_release, std::memory_order_relaxed));
}

void GlobalAccount::give_back(AccountLease& lease) noexcept {
  revoke(lease, false);
}

void GlobalAccount::revoke(AccountLease& lease, bool unsettled_after) noexcept {
  set_unsettled(true);
  std::uint64_t left = lease.m_bytes.exchange(AccountLease::none, std::memory_order_acq_rel);
  if (left != AccountLease::none) {
    lower(left + lease_one);
  }
  set_unsettled(unsettled_after);
}

void GlobalAccount::reset_peak() noexcept {
  u128 expected = read_word(&m_word);
  bool recalled_all = true;
  for (;;) {
    if (leases_out(low(expected)) != 0 && recalled_all) {
      recalled_all = recall(&expected);
      continue;
    }
    std::uint64_t live = low(expected) & live_mask;
    std::uint64_t generation = (high(expected) & ~peak_mask) + generation_one;
    u128 desired = make(low(expected), generation | (live & peak_mask));
    u128 seen = __sync_val_compare_and_swap(&m_word, expected, desired);
    if (seen == expected) {
      return;
    }
    expected = seen;
  }
}

std::uint64_t GlobalAccount::live() noexcept {
  u128 word = read_word(&m_word);
  if (leases_out(low(word)) != 0) {
    recall(&word);  // the word as it was with no lease out (or only this thread's unsettled one)
  }
  return low(word) & live_mask;
}
std::uint64_t GlobalAccount::peak() const noexcept {
  return high(read_word(&m_word)) & peak_mask;
}
std::uint64_t GlobalAccount::mark() const noexcept {
  return high(read_word(&m_word));
}
void GlobalAccount::reset() noexcept {
  for (AccountLease* l = m_leases.load(std::memory_order_acquire); l != nullptr; l = l->m_next) {
    l->m_bytes.store(AccountLease::none, std::memory_order_relaxed);
  }
  m_inexact_recalls.store(0, std::memory_order_relaxed);
  __sync_lock_test_and_set(&m_word, 0);
}

std::int64_t SiteCounters::contribution_at(std::uint64_t final_mark) const noexcept {
  if (load_relaxed(peak_mark) == final_mark) {
    return load_relaxed(peak_bytes);
  }
  return static_cast<std::int64_t>(load_relaxed(alloc_bytes)) - static_cast<std::int64_t>(load_relaxed(freed_bytes));
}

}  // namespace measure::detail
