// Requested sizes of blocks that carry no stack (every block in counters mode, the unsampled
// ones in sampled mode), found from the block's address without a shared table: one byte per
// 16-byte granule of the heap holds the block's family and its slack, the allocator's usable
// size minus the requested size. A free asks the allocator for the usable size again (from
// glibc's chunk header directly when the allocator is glibc's) and subtracts the slack. That is exact because the usable size of a live block never changes
// (only realloc resizes, and realloc is recorded as a free and an allocation), and the slack
// of glibc's blocks is 0 to 24 bytes, which fits the byte; a block whose slack does not fit,
// whose address is not 16-byte aligned or lies above the shadow's range takes the live-block
// table instead (PointerTable), as does every block with a stack.
//
// Why: the table's shard lock and two dependent cache misses on every allocation and free
// were a third of the run in counters mode. The shadow byte of a block lies next to the
// bytes of its neighbours in the heap, which the program touches anyway, and each thread
// writes the bytes of its own blocks: no lock, no line shared with other threads unless they
// free each other's blocks.
//
// Layout: a directory of one pointer per 16 MiB of address space (64 MiB of reserved, lazily
// committed pages for 47-bit addresses) to 1 MiB shadow chunks, each mapped on the first
// block in its region and never unmapped. Memory: 1/16 of the heap's touched address range,
// 4 bytes for a 64-byte block.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "capture/pointer_table.h"
#include "platform/platform.h"

namespace measure::detail {

/// The allocator's malloc_usable_size (the original, not the hook).
using UsableSizeFunction = std::size_t (*)(void*);

class SizeShadow {
 public:
  /// Reserves the directory and starts answering. pre: called once, before any other thread
  /// records (runtime start-up). Returns false (and stays off: every call below then returns
  /// false) when `function` is null or the reservation fails.
  bool enable(UsableSizeFunction function) noexcept;
  bool enabled() const noexcept { return m_directory != nullptr; }

  /// Records a live block of `size` requested bytes at `address`. Returns false, recording
  /// nothing, when the block cannot be held here (see above) or a shadow chunk cannot be
  /// mapped; the caller then uses the table. pre: the allocator just returned `address`.
  inline bool enter(std::uintptr_t address, std::size_t size, AllocFamily family) noexcept;
  /// If `address` is a live block held here: forgets it, fills `info` (unknown stack) and
  /// returns true. pre: the block has not been freed yet (its usable size is asked).
  inline bool take(std::uintptr_t address, BlockInfo* info) noexcept;
  /// Like take, without forgetting the block.
  bool find(std::uintptr_t address, BlockInfo* info) const noexcept { return live_cell(address, info) != nullptr; }
  /// Forgets any entry at `address`: a block about to be entered in the table, so that a
  /// stale byte (a free the runtime did not see) cannot shadow the table's entry.
  void clear(std::uintptr_t address) noexcept;

  /// Resident bytes of the directory and the chunks (the toolkit's own memory).
  std::uint64_t memory_bytes() const noexcept;

 private:
  static constexpr unsigned granule_bits = 4;
  static constexpr unsigned region_bits = 24;
  static constexpr unsigned address_bits = 47;
  static constexpr std::size_t chunk_bytes = std::size_t{1} << (region_bits - granule_bits);
  static constexpr std::size_t directory_entries = std::size_t{1} << (address_bits - region_bits);
  static constexpr std::uint8_t live_bit = 0x80;
  static constexpr std::uint8_t slack_mask = 0x1f;
  static constexpr unsigned family_shift = 5;

  /// The byte of `address`, or nullptr when its region has no chunk yet.
  inline std::uint8_t* cell(std::uintptr_t address) const noexcept;
  /// The byte of a live block at `address`, its entry decoded into `info`; nullptr if none.
  inline std::uint8_t* live_cell(std::uintptr_t address, BlockInfo* info) const noexcept;
  std::uint8_t* add_chunk(std::uintptr_t address) noexcept;
  static bool holdable(std::uintptr_t address) noexcept {
    return (address & ((std::uintptr_t{1} << granule_bits) - 1)) == 0 && address >> address_bits == 0;
  }

  std::atomic<std::uint8_t*>* m_directory = nullptr;
  UsableSizeFunction m_usable = nullptr;
  bool m_glibc = false;  // the allocator is glibc's: read its chunk headers directly
  inline std::size_t usable(std::uintptr_t address) const noexcept;
  // Chunks in mapping order, for memory_bytes (written under no lock: each is claimed by a
  // fetch_add; readers skip slots not yet filled).
  static constexpr std::size_t max_chunks = 4096;  // 64 GiB of heap address range
  std::atomic<std::uint8_t*> m_chunks[max_chunks] = {};
  std::atomic<std::size_t> m_chunk_count{0};
};

inline std::size_t SizeShadow::usable(std::uintptr_t address) const noexcept {
  return m_glibc ? platform::glibc_usable_size(reinterpret_cast<const void*>(address))
                 : m_usable(reinterpret_cast<void*>(address));
}

inline std::uint8_t* SizeShadow::cell(std::uintptr_t address) const noexcept {
  std::uint8_t* chunk = m_directory[address >> region_bits].load(std::memory_order_acquire);
  if (chunk == nullptr) {
    return nullptr;
  }
  return chunk + ((address & ((std::uintptr_t{1} << region_bits) - 1)) >> granule_bits);
}

inline bool SizeShadow::enter(std::uintptr_t address, std::size_t size, AllocFamily family) noexcept {
  if (m_directory == nullptr || !holdable(address)) {
    return false;
  }
  std::size_t room = usable(address);
  if (room < size || room - size > slack_mask) {
    return false;
  }
  std::uint8_t* byte = cell(address);
  if (__builtin_expect(byte == nullptr, 0) && (byte = add_chunk(address)) == nullptr) {
    return false;
  }
  auto value = static_cast<std::uint8_t>(live_bit | static_cast<unsigned>(family) << family_shift | (room - size));
  // Relaxed: a free of this block on another thread happens after the program handed the
  // pointer over, which orders it after this store.
  __atomic_store_n(byte, value, __ATOMIC_RELAXED);
  return true;
}

inline std::uint8_t* SizeShadow::live_cell(std::uintptr_t address, BlockInfo* info) const noexcept {
  if (m_directory == nullptr || !holdable(address)) {
    return nullptr;
  }
  std::uint8_t* byte = cell(address);
  if (byte == nullptr) {
    return nullptr;
  }
  std::uint8_t value = __atomic_load_n(byte, __ATOMIC_RELAXED);
  if ((value & live_bit) == 0) {
    return nullptr;
  }
  info->size = usable(address) - (value & slack_mask);
  info->stack = 0;
  info->family = static_cast<AllocFamily>((value >> family_shift) & 3U);
  return byte;
}

inline bool SizeShadow::take(std::uintptr_t address, BlockInfo* info) noexcept {
  std::uint8_t* byte = live_cell(address, info);
  if (byte == nullptr) {
    return false;
  }
  __atomic_store_n(byte, std::uint8_t{0}, __ATOMIC_RELAXED);
  return true;
}

}  // namespace measure::detail
