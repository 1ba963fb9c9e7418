// Interned call stacks. Each distinct (frames, module generation) gets a small dense id;
// records never move or die, so readers can hold pointers without locks. The index is
// sharded by hash, and threads put a private cache in front of it (see ThreadState), so
// interning a stack a thread has seen before takes no lock at all.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "support/spinlock.h"

namespace measure::detail {

struct StackRecord {
  std::uint64_t hash;
  std::uint32_t depth;
  std::uint32_t generation;  // module-map generation the addresses belong to
  std::uint32_t flags;       // StackFlags
  std::uint32_t reserved;
  std::uintptr_t frames[1];  // `depth` return addresses, innermost first
};

enum StackFlags : std::uint32_t {
  stack_truncated = 1U << 0,  // the walk stopped at the depth limit
  stack_partial = 1U << 1,    // unwound without unwind tables (before the runtime was ready)
  stack_inherited = 1U << 3,  // a forked child's blocks allocated by the parent before the fork

};

class StackTable {
 public:
  /// Highest id handed out; the pointer table stores ids in 26 bits.
  static constexpr std::uint32_t max_id = (1U << 26) - 1;
  /// Id 0 is the empty stack: allocations whose stack could not be captured or stored.
  static constexpr std::uint32_t unknown_id = 0;

  /// Prepares the table (idempotent). False when memory for the directory is unavailable.
  bool init() noexcept;
  /// Returns the id of the stack, interning it if new. Returns unknown_id when the table is
  /// full or out of memory (the caller counts the loss). pre: init() succeeded.
  std::uint32_t intern(const std::uintptr_t* frames, std::uint32_t depth, std::uint32_t generation, std::uint32_t flags,
                       std::uint64_t hash) noexcept;
  /// The record of `id`, or nullptr for ids not (yet) published. Lock-free.
  const StackRecord* get(std::uint32_t id) const noexcept;
  /// One past the highest id published so far.
  std::uint32_t count() const noexcept { return m_count.load(std::memory_order_acquire); }
  /// True when the stack equals `frames`/`depth`/`generation`.
  static bool same(const StackRecord& record, const std::uintptr_t* frames, std::uint32_t depth,
                   std::uint32_t generation) noexcept;
  std::uint64_t memory_bytes() const noexcept { return m_memory.load(std::memory_order_relaxed); }

  void lock_all() noexcept;
  void unlock_all() noexcept;
  void reset_locks_after_fork() noexcept;

 private:
  static constexpr unsigned shard_bits = 6;
  static constexpr std::uint32_t chunk_bits = 12;  // ids per directory chunk: 4096
  struct IndexSlot {
    std::uint64_t hash;
    std::uint32_t id;
    std::uint32_t reserved;
  };
  struct alignas(64) Shard {
    SpinLock lock;
    std::uint32_t capacity = 0;
    std::uint32_t count = 0;
    IndexSlot* slots = nullptr;
  };

  bool grow(Shard& shard) noexcept;
  std::uint32_t publish(StackRecord* record) noexcept;

  Shard m_shards[1U << shard_bits];
  SpinLock m_publish_lock;
  std::atomic<StackRecord**>* m_directory = nullptr;  // (max_id >> chunk_bits) + 1 chunk pointers
  std::atomic<std::uint32_t> m_count{0};
  std::atomic<std::uint64_t> m_memory{0};
};

}  // namespace measure::detail
