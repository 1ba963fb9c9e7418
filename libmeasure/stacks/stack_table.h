// Interned call stacks. Each distinct (frames, module generation) gets a small dense id;
// records never move or die, so readers can hold pointers without locks. The index is
// sharded by hash, and threads put a private cache in front of it (see ThreadState), so
// interning a stack a thread has seen before takes no lock at all.
//
// A record keeps its frames as the differences between neighbours: a difference of less than
// 32 KiB either way (most of them: the return addresses of one stack lie mostly in one or two
// modules) takes two bytes, zigzag-coded; any other frame an escape and its 8-byte address.
// A distinct stack of 40 frames takes about 90 bytes instead of 344. Fixed widths keep the
// coding free of the branch mispredictions a varint's lengths cost on every intern.
// Interning compares coded frames; readers decode them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "support/spinlock.h"

namespace measure::detail {

struct StackRecord {
  std::uint32_t generation;  // module-map generation the addresses belong to
  std::uint16_t depth;       // frames
  std::uint16_t coded_size;  // bytes of `coded`
  std::uint8_t flags;        // StackFlags
  std::uint8_t coded[7];     // the frames, innermost first, coded (see above); more follow
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
  /// The deepest stack the table takes (the runtime's depth limit).
  static constexpr std::uint32_t max_frames = 256;

  /// Prepares the table (idempotent). False when memory for the directory is unavailable.
  bool init() noexcept;
  /// Returns the id of the stack, interning it if new. Returns unknown_id when the table is
  /// full or out of memory, or `depth` is over max_frames (the caller counts the loss). pre:
  /// init() succeeded.
  std::uint32_t intern(const std::uintptr_t* frames, std::uint32_t depth, std::uint32_t generation, std::uint32_t flags,
                       std::uint64_t hash) noexcept;
  /// The record of `id`, or nullptr for ids not (yet) published. Lock-free.
  const StackRecord* get(std::uint32_t id) const noexcept;
  /// One past the highest id published so far.
  std::uint32_t count() const noexcept { return m_count.load(std::memory_order_acquire); }
  /// Decodes the record's frames into `out` (room for record.depth), innermost first;
  /// returns the depth.
  static std::uint32_t frames(const StackRecord& record, std::uintptr_t* out) noexcept;
  /// Bytes that coding `depth` frames may take at most.
  static constexpr std::size_t max_coded_size(std::uint32_t depth) noexcept { return std::size_t{10} * depth; }
  /// The two-byte code that says an 8-byte address follows.
  static constexpr std::uint16_t escape = 0xffff;
  /// Codes `frames` into `out` (room for max_coded_size(depth)); returns the bytes written.
  static std::size_t code(const std::uintptr_t* frames, std::uint32_t depth, std::uint8_t* out) noexcept;
  std::uint64_t memory_bytes() const noexcept { return m_memory.load(std::memory_order_relaxed); }

  void lock_all() noexcept;
  void unlock_all() noexcept;
  void reset_locks_after_fork() noexcept;

 private:
  static constexpr unsigned shard_bits = 6;
  static constexpr std::uint32_t chunk_bits = 12;  // ids per directory chunk: 4096
  // A stack's place in its shard's index: bits of its hash above the shard's (enough to place
  // it again when the index grows, and to skip most other stacks without reading their
  // records) and its id; id 0 (the empty stack, never indexed) marks a free slot.
  struct IndexSlot {
    std::uint32_t hash;
    std::uint32_t id;
  };
  static std::uint32_t slot_hash(std::uint64_t hash) noexcept { return static_cast<std::uint32_t>(hash >> shard_bits); }
  struct alignas(64) Shard {
    SpinLock lock;
    std::uint32_t capacity = 0;
    std::uint32_t count = 0;
    IndexSlot* slots = nullptr;
  };

  bool grow(Shard& shard) noexcept;
  std::uint32_t publish(StackRecord* record) noexcept;
  /// Memory for a record of `bytes` (8-byte aligned), carved from blocks that are never given
  /// back (records never die): no size-class rounding, no per-record overhead. nullptr when
  /// out of memory.
  StackRecord* allocate_record(std::size_t bytes) noexcept;

  Shard m_shards[1U << shard_bits];
  SpinLock m_publish_lock;          // also guards the record blocks below
  std::uint8_t* m_block = nullptr;  // the block records are carved from
  std::size_t m_block_used = 0;
  std::size_t m_block_size = 0;
  std::atomic<StackRecord**>* m_directory = nullptr;  // (max_id >> chunk_bits) + 1 chunk pointers
  std::atomic<std::uint32_t> m_count{0};
  std::atomic<std::uint64_t> m_memory{0};
};

}  // namespace measure::detail
