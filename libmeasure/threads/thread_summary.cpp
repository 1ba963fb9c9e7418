#include "threads/thread_summary.h"

#include "platform/platform.h"

namespace measure::detail {
namespace {

void store_entry(LargestBlock& entry, const LargestBlock& value) noexcept {
  __atomic_store_n(&entry.size, value.size, __ATOMIC_RELAXED);
  __atomic_store_n(&entry.time_ns, value.time_ns, __ATOMIC_RELAXED);
  __atomic_store_n(&entry.stack, value.stack, __ATOMIC_RELAXED);
}

LargestBlock load_entry(const LargestBlock& entry) noexcept {
  return LargestBlock{__atomic_load_n(&entry.size, __ATOMIC_RELAXED), __atomic_load_n(&entry.time_ns, __ATOMIC_RELAXED),
                      __atomic_load_n(&entry.stack, __ATOMIC_RELAXED)};
}

}  // namespace

void ThreadSummary::note_largest(std::uint32_t stack, std::uint64_t bytes) noexcept {
  unsigned slot = m_largest_count;
  if (slot == largest_kept) {
    // Every slot is used and `bytes` beats the floor: it replaces the smallest (the latest of
    // equal ones, so the earliest stay).
    slot = 0;
    for (unsigned i = 1; i < largest_kept; ++i) {
      if (m_largest[i].size <= m_largest[slot].size) {
        slot = i;
      }
    }
  }
  std::uint32_t version = m_largest_version.load(std::memory_order_relaxed);
  m_largest_version.store(version + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  store_entry(m_largest[slot], LargestBlock{bytes, platform::monotonic_ns(), stack});
  m_largest_version.store(version + 2, std::memory_order_release);
  if (m_largest_count < largest_kept) {
    ++m_largest_count;
    if (m_largest_count < largest_kept) {
      return;  // the floor stays 0 while a slot is free
    }
  }
  std::uint64_t floor = m_largest[0].size;
  for (unsigned i = 1; i < largest_kept; ++i) {
    floor = m_largest[i].size < floor ? m_largest[i].size : floor;
  }
  m_largest_floor = floor;
}

unsigned ThreadSummary::copy_largest(LargestBlock* out) const noexcept {
  for (int attempt = 0; attempt < 64; ++attempt) {
    std::uint32_t before = m_largest_version.load(std::memory_order_acquire);
    if ((before & 1U) != 0) {
      continue;
    }
    unsigned n = 0;
    for (const LargestBlock& entry : m_largest) {
      LargestBlock b = load_entry(entry);
      if (b.size != 0 || b.time_ns != 0) {
        out[n++] = b;
      }
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (m_largest_version.load(std::memory_order_relaxed) == before) {
      return n;
    }
  }
  return 0;
}

void ThreadSummary::reset() noexcept {
  for (SizeClass& c : m_sizes) {
    c = SizeClass{};
  }
  m_temporary_bytes = 0;
  m_largest_floor = 0;
  m_largest_count = 0;
  for (LargestBlock& b : m_largest) {
    b = LargestBlock{};
  }
  m_largest_version.store(0, std::memory_order_relaxed);
}

}  // namespace measure::detail
