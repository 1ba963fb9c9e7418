// The unwind rule of every return address the runtime has met, computed once from the
// module's tables (stacks/cfi.h) and cached process-wide. Lock-free: entries are published
// with a compare-and-swap and never change afterwards, so any thread may read while another
// adds. The table starts small (4,096 addresses, 64 KiB) and is replaced by one four times as
// large when a lookup finds its neighbourhood full, up to 65,536 addresses. When a module is
// unloaded (the module map's generation changes) the table is emptied in place, since another
// module may be mapped at its addresses later; a reader checks that the entry it read still
// holds its address afterwards.
#pragma once

#include <atomic>
#include <cstdint>

#include "stacks/cfi.h"

namespace measure::detail {

class FrameRules {
 public:
  /// The rule for stepping out of the frame whose return address is `ip`.
  FrameRule lookup(std::uintptr_t ip) noexcept;
  /// Forgets every rule when `generation` (the module map's) is not the one seen last: a module
  /// was unloaded. Call before a walk.
  void track_generation(std::uint32_t generation) noexcept {
    if (__builtin_expect(m_generation.load(std::memory_order_acquire) != generation, 0)) {
      forget(generation);
    }
  }
  /// Rules computed but not cached because the table was full or unavailable.
  /// Address space reserved for tables (committed only where touched).
  std::uint64_t memory_bytes() const noexcept { return m_memory.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    std::atomic<std::uintptr_t> ip;
    std::atomic<std::uint64_t> rule;  // a packed FrameRule; 0 while being written
  };
  struct Table {
    std::uint32_t mask;  // entries - 1
    Entry* entries;
  };
  static constexpr std::uint32_t first_bits = 12;  // 4,096 return addresses, 64 KiB
  static constexpr std::uint32_t max_bits = 16;    // 65,536 return addresses, 1 MiB
  static constexpr std::uint32_t max_probes = 32;

  /// The current table, or one `bits` wide when there is none or it is smaller (when `t`, the
  /// table the caller found crowded, is still current). nullptr when out of memory.
  Table* replace(Table* t, std::uint32_t bits) noexcept;
  void forget(std::uint32_t generation) noexcept;

  // Tables are never unmapped: a walk on another thread may still be reading one it replaced
  // (at most 64 KiB and 256 KiB stay behind).
  std::atomic<Table*> m_table{nullptr};
  std::atomic<std::uint32_t> m_generation{0};
  std::atomic<std::uint64_t> m_memory{0};
};

/// One thread's small cache in front of FrameRules: the rules of the return addresses it met
/// last, direct-mapped, read and written by its owner only (no atomic, no hashing beyond a
/// shift). A deep stack visits the same few dozen return addresses walk after walk, and the
/// process-wide table's hashing and publication checks were a fifth of a walk. Emptied when
/// the module generation changes, as the shared table is.
class ThreadFrameRules {
 public:
  static constexpr std::uint32_t entries = 256;

  /// Forgets every rule when `generation` is not the one the cache was filled under.
  void track_generation(std::uint32_t generation) noexcept {
    if (__builtin_expect(m_generation != generation, 0)) {
      for (Entry& e : m_entries) {
        e.ip = 0;
      }
      m_generation = generation;
    }
  }
  /// The rule of `ip`, from this cache or else from `shared` (and then kept here).
  FrameRule lookup(std::uintptr_t ip, FrameRules& shared) noexcept {
    Entry& e = m_entries[(ip ^ (ip >> 8)) & (entries - 1)];
    if (__builtin_expect(e.ip == ip, 1)) {
      return e.rule;
    }
    FrameRule rule = shared.lookup(ip);
    e.ip = ip;
    e.rule = rule;
    return rule;
  }

 private:
  struct Entry {
    std::uintptr_t ip;
    FrameRule rule;
  };
  Entry m_entries[entries] = {};
  std::uint32_t m_generation = 0;
};

/// The rule at return address `ip`, straight from the tables (no cache).
FrameRule compute_frame_rule(std::uintptr_t ip) noexcept;

}  // namespace measure::detail
