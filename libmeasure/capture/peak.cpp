#include "capture/peak.h"

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

}  // namespace

PeakTransition GlobalAccount::apply(std::int64_t delta) noexcept {
  AccountHint hint{read_word(&m_word)};
  return apply(delta, hint);
}

PeakTransition GlobalAccount::apply(std::int64_t delta, AccountHint& hint) noexcept {
  u128 expected = hint.word;
  for (;;) {
    std::uint64_t live = low(expected) + static_cast<std::uint64_t>(delta);
    std::uint64_t mark = high(expected);
    std::uint64_t next_mark = mark;
    if (delta > 0 && live > (mark & peak_mask)) {
      next_mark = (mark & ~peak_mask) | (live & peak_mask);
    }
    u128 desired = make(live, next_mark);
    u128 seen = __sync_val_compare_and_swap(&m_word, expected, desired);
    if (seen == expected) {
      hint.word = desired;
      return PeakTransition{mark, next_mark, live};
    }
    expected = seen;
  }
}

void GlobalAccount::release(std::uint64_t bytes) noexcept {
#if defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16) && !defined(__SANITIZE_THREAD__)
  __atomic_fetch_sub(reinterpret_cast<std::uint64_t*>(&m_word), bytes, __ATOMIC_RELAXED);
#else
  apply(-static_cast<std::int64_t>(bytes));
#endif
}

void GlobalAccount::reserve(std::uint64_t bytes) noexcept {
#if defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16) && !defined(__SANITIZE_THREAD__)
  auto* halves = reinterpret_cast<std::uint64_t*>(&m_word);
  std::uint64_t live = __atomic_add_fetch(&halves[0], bytes, __ATOMIC_RELAXED);
  if (__builtin_expect(live > (__atomic_load_n(&halves[1], __ATOMIC_RELAXED) & peak_mask), 0)) {
    raise_peak(live);
  }
#else
  apply(static_cast<std::int64_t>(bytes));
#endif
}

void GlobalAccount::raise_peak(std::uint64_t live) noexcept {
  u128 expected = read_word(&m_word);
  for (;;) {
    std::uint64_t mark = high(expected);
    if (live <= (mark & peak_mask)) {
      return;
    }
    u128 desired = make(low(expected), (mark & ~peak_mask) | (live & peak_mask));
    u128 seen = __sync_val_compare_and_swap(&m_word, expected, desired);
    if (seen == expected) {
      return;
    }
    expected = seen;
  }
}

void GlobalAccount::reset_peak() noexcept {
  u128 expected = read_word(&m_word);
  for (;;) {
    std::uint64_t live = low(expected);
    std::uint64_t generation = (high(expected) & ~peak_mask) + generation_one;
    u128 desired = make(live, generation | (live & peak_mask));
    u128 seen = __sync_val_compare_and_swap(&m_word, expected, desired);
    if (seen == expected) {
      return;
    }
    expected = seen;
  }
}

std::uint64_t GlobalAccount::live() const noexcept {
  return low(read_word(&m_word));
}
std::uint64_t GlobalAccount::peak() const noexcept {
  return high(read_word(&m_word)) & peak_mask;
}
std::uint64_t GlobalAccount::mark() const noexcept {
  return high(read_word(&m_word));
}
void GlobalAccount::reset() noexcept {
  __sync_lock_test_and_set(&m_word, 0);
}

std::int64_t SiteCounters::contribution_at(std::uint64_t final_mark) const noexcept {
  if (load_relaxed(peak_mark) == final_mark) {
    return load_relaxed(peak_bytes);
  }
  return static_cast<std::int64_t>(load_relaxed(alloc_bytes)) - static_cast<std::int64_t>(load_relaxed(freed_bytes));
}

}  // namespace measure::detail
