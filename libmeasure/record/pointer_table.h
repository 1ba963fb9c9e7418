// The live-block table: block address -> (stack id, requested size, allocation family).
// Sharded by address hash; each shard is a linear-probing table with backward-shift deletion
// behind its own spinlock, so threads only meet when two addresses hash to one shard.
// Slots are 16 bytes; with the load kept between 0.35 and 0.7 that is 23 to 46 bytes per live
// block (about 30 on average), within the budget of about 32 bytes per live block.
#pragma once

#include <cstddef>
#include <cstdint>

#include "support/spinlock.h"

namespace measure::detail {

/// Which family allocated a block, so frees by another family can be counted as mismatched.
enum class AllocFamily : std::uint8_t { malloc = 0, new_scalar = 1, new_array = 2, reported = 3 };

struct BlockInfo {
  std::uint64_t size = 0;
  std::uint32_t stack = 0;
  AllocFamily family = AllocFamily::malloc;
  bool round_up = false;  // a sampled block whose estimated count is rounded up (record/sampler.h)
};

class PointerTable {
 public:
  static constexpr unsigned shard_bits = 9;
  static constexpr std::uint32_t max_stack_id = (1U << 26) - 1;

  /// Records a live block. pre: `address` != 0 and not already present; `info.stack` <=
  /// max_stack_id. Returns false (and records nothing) when the toolkit is out of memory.
  bool insert(std::uintptr_t address, const BlockInfo& info) noexcept;
  /// Removes a block and returns what was recorded for it; false if the address is unknown.
  bool remove(std::uintptr_t address, BlockInfo* info) noexcept;
  /// Looks a block up without removing it.
  bool find(std::uintptr_t address, BlockInfo* info) noexcept;
  /// Number of live blocks recorded.
  std::uint64_t size() noexcept;
  /// Calls visit(address, info, context) for every live block, one shard locked at a time.
  void for_each(void (*visit)(std::uintptr_t, const BlockInfo&, void*), void* context) noexcept;
  /// Forked child: attributes every live block to `stack`. pre: single-threaded (the child
  /// of fork, before it runs program code).
  void retag_all(std::uint32_t stack) noexcept;
  /// Bytes of toolkit memory the table holds.
  std::uint64_t memory_bytes() noexcept;

  /// Fork support: take every lock before fork, release after (parent), reset (child).
  void lock_all() noexcept;
  void unlock_all() noexcept;
  void reset_locks_after_fork() noexcept;

 private:
  struct Slot {
    std::uintptr_t key;
    std::uint64_t value;
  };
  struct alignas(64) Shard {
    SpinLock lock;
    std::uint32_t capacity = 0;  // 0 or a power of two
    std::uint32_t count = 0;
    Slot* slots = nullptr;
  };
  struct Oversize {
    std::uintptr_t key;
    std::uint64_t size;
  };

  static std::uint64_t pack(const BlockInfo& info) noexcept;
  /// The fields of a packed value; a size of the oversize marker is looked up by the caller.
  static BlockInfo unpack_fields(std::uint64_t value) noexcept;
  /// The slot holding `address` in `shard`, or -1. pre: the shard's lock is held.
  static std::int64_t slot_of(const Shard& shard, std::uint64_t hash, std::uintptr_t address) noexcept;
  BlockInfo unpack(std::uintptr_t key, std::uint64_t value) noexcept;
  bool grow(Shard& shard) noexcept;
  bool remember_oversize(std::uintptr_t key, std::uint64_t size) noexcept;
  std::uint64_t take_oversize(std::uintptr_t key, bool erase) noexcept;

  Shard m_shards[1U << shard_bits];
  SpinLock m_oversize_lock;
  Oversize* m_oversize = nullptr;
  std::uint32_t m_oversize_count = 0;
  std::uint32_t m_oversize_capacity = 0;
};

}  // namespace measure::detail
