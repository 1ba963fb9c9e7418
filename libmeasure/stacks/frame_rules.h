// The unwind rule of every return address the runtime has met, computed once from the
// module's tables (stacks/cfi.h) and cached process-wide. Lock-free: entries are published
// with a compare-and-swap and never change afterwards, so any thread may read while another
// adds. When code is unloaded (dlclose) the whole table is replaced, since another module
// may later be loaded at the same addresses.
#pragma once

#include <atomic>
#include <cstdint>

#include "stacks/cfi.h"

namespace measure::detail {

class FrameRules {
 public:
  /// The rule for stepping out of the frame whose return address is `ip`.
  FrameRule lookup(std::uintptr_t ip) noexcept;
  /// Forgets every rule (modules were unloaded). The old table's memory stays reserved: a
  /// thread may still be reading it.
  void flush() noexcept;
  /// Rules computed but not cached because the table was full or unavailable.
  std::uint64_t uncached() const noexcept { return m_uncached.load(std::memory_order_relaxed); }
  /// Address space reserved for tables (committed only where touched).
  std::uint64_t memory_bytes() const noexcept { return m_memory.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    std::atomic<std::uintptr_t> ip;
    std::atomic<std::uint64_t> rule;  // a packed FrameRule; 0 while being written
  };
  static constexpr std::uint32_t table_bits = 16;  // 65,536 return addresses, 1 MiB
  static constexpr std::uint32_t max_probes = 32;

  Entry* table() noexcept;

  std::atomic<Entry*> m_table{nullptr};
  std::atomic<std::uint64_t> m_uncached{0};
  std::atomic<std::uint64_t> m_memory{0};
};

/// The rule at return address `ip`, straight from the tables (no cache).
FrameRule compute_frame_rule(std::uintptr_t ip) noexcept;

}  // namespace measure::detail
