// Live blocks found from their address without a shared table. One cell per 16-byte granule
// of the heap holds a block's family and its slack, the allocator's usable size minus the
// requested size; a free asks the allocator for the usable size again (from glibc's chunk
// header directly when the allocator is glibc's) and subtracts the slack. That is exact
// because the usable size of a live block never changes (only realloc resizes, and realloc
// is recorded as a free and an allocation), and the slack of glibc's blocks is 0 to 24
// bytes (up to 47 for aligned blocks and blocks grown in place). Blocks of up to 512 usable bytes (256 in exact mode)
// are held here, so that no block commits more than 32 bytes of cells; larger blocks only when their cell lies on a
// shadow page that smaller blocks already use (a bit per shadow page says so), where they cost no memory at all. In
// exact mode the cell is two bytes and also names the block's stack through a StackPalette index; in sampled and
// counters modes it is one byte and the block has no stack. A block the cell cannot describe (larger, slack over 63, an
// unaligned address, an address above the shadow's range, a stack without a palette index) takes the live-block table
// (PointerTable) instead.
//
// Why: the table's shard lock and two dependent cache misses on every allocation and free
// were a third of the run. A block's cell lies next to the cells of its neighbours in the
// heap, which the program touches anyway, and each thread writes the cells of its own
// blocks: no lock, no line shared with other threads unless they free each other's blocks.
//
// Layout: a two-level directory of one pointer per 16 MiB of address space (a top level of 2,048
// entries in the runtime's static storage, each pointing to a 32 KiB leaf that covers 64 GiB,
// mapped when its first chunk is) to shadow chunks of 1 or 2 MiB, each mapped on the first
// block in its region and never unmapped; each chunk is followed by its page bits (one page).
// Address space follows the heap: a program whose heap lies in one or two 64 GiB ranges costs
// one or two leaves. Memory: 1/16 (1/8 in exact mode) of the heap's touched address range: 4
// (8) bytes for a 64-byte block.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "platform/platform.h"
#include "record/pointer_table.h"

namespace measure::detail {

/// The allocator's malloc_usable_size (the original, not the hook).
using UsableSizeFunction = std::size_t (*)(void*);

class BlockShadow {
 public:
  /// Starts answering, with two-byte cells that hold a palette index when `with_stacks`. pre:
  /// called once, before any other thread records (runtime start-up). Returns false (and stays
  /// off: every call below then returns false) when `function` is null.
  bool enable(UsableSizeFunction function, bool with_stacks) noexcept;
  bool enabled() const noexcept { return m_enabled; }

  /// Records a live block of `size` requested bytes at `address`, naming palette entry
  /// `stack_index` (0 unless with_stacks). Returns false, recording nothing, when the block
  /// cannot be held here (see above) or a shadow chunk cannot be mapped; the caller then uses
  /// the table. pre: the allocator just returned `address`.
  __attribute__((always_inline)) inline bool enter(std::uintptr_t address, std::size_t size, AllocFamily family,
                                                   std::uint32_t stack_index = 0) noexcept;
  /// If `address` is a live block held here: forgets it, fills `info` (`info->stack` is the
  /// palette index, 0 without stacks) and returns true. pre: the block has not been freed
  /// yet (its usable size is asked).
  inline bool take(std::uintptr_t address, BlockInfo* info) noexcept;
  /// The light modes' fast paths (one-byte cells, glibc's allocator): enter() and take() for
  /// the common case only, touching nothing but the block's header, its cell and the cell's
  /// page bits: no call, so errno and the caller's registers are safe. False, with nothing
  /// changed, whenever the full call might do more (no chunk yet for the region, another
  /// allocator, two-byte cells, a block the shadow does not hold): the caller then makes it.
  /// take_light leaves `info->stack` as it is (these cells hold no stack).
  __attribute__((always_inline)) inline bool enter_light(std::uintptr_t address, std::size_t size,
                                                         AllocFamily family) noexcept;
  __attribute__((always_inline)) inline bool take_light(std::uintptr_t address, BlockInfo* info) noexcept;
  /// Like take, without forgetting the block.
  bool find(std::uintptr_t address, BlockInfo* info) const noexcept { return live_cell(address, info) != nullptr; }
  /// Forgets any entry at `address`: a block about to be entered in the table, so that a
  /// stale cell (a free the runtime did not see) cannot shadow the table's entry.
  void clear(std::uintptr_t address) noexcept;

  /// Resident bytes of the directory, and the pages of cells blocks were entered on (with
  /// each chunk's page bits): the toolkit's own memory. Pages only read (the kernel's zero
  /// page) are not counted.
  std::uint64_t memory_bytes() const noexcept;

  static constexpr std::uint32_t max_stack_index = 255;

 private:
  static constexpr unsigned granule_bits = 4;
  static constexpr unsigned region_bits = 24;
  static constexpr unsigned address_bits = 47;
  static constexpr unsigned leaf_bits = 12;  // a leaf: 4,096 regions, 64 GiB, 32 KiB of pointers
  static constexpr std::size_t granules_per_region = std::size_t{1} << (region_bits - granule_bits);
  static constexpr std::size_t leaf_entries = std::size_t{1} << leaf_bits;
  static constexpr std::size_t top_entries = std::size_t{1} << (address_bits - region_bits - leaf_bits);
  // A cell, read as 16 bits (the high byte alone in one-byte cells): the family plus one (0:
  // no live block) and the slack (six bits: glibc's aligned and in-place-grown blocks reach
  // 47 bytes); the low byte of a two-byte cell is the palette index.
  static constexpr unsigned family_shift = 14;
  static constexpr unsigned slack_shift = 8;
  static constexpr std::uint32_t slack_mask = 0x3f;
  // The unit of the page bits: the smallest page the kernel commits on this platform.
  static constexpr std::size_t shadow_page = 4096;
  // The light modes' cells: one byte (the fast paths, where m_light_fast says so).
  static constexpr unsigned light_shift = 0;

  /// The chunk of `address`'s region, or nullptr when the region has none yet.
  inline std::uint8_t* chunk_of(std::uintptr_t address) const noexcept;
  /// The directory slot of `address`'s region, mapping its leaf when `create`; nullptr when the
  /// leaf does not exist (or cannot be mapped).
  std::atomic<std::uint8_t*>* slot_of(std::uintptr_t address, bool create) noexcept;
  /// The cell of `address` in `chunk`, its region's chunk, with cells of 1 << `shift` bytes.
  /// (Static, with the width given, so that the light fast paths compute with a constant.)
  static inline std::uint8_t* cell_in(std::uint8_t* chunk, std::uintptr_t address, unsigned shift) noexcept;
  /// The cell of `address` in its region's chunk, or nullptr when the region has no chunk.
  inline void* cell(std::uintptr_t address) const noexcept;
  /// `chunk`'s page bits: one per page of its cells, in the page after them.
  static std::atomic<std::uint64_t>* page_bits(std::uint8_t* chunk, unsigned shift) noexcept {
    return reinterpret_cast<std::atomic<std::uint64_t>*>(chunk + chunk_bytes(shift));
  }
  /// The word of `chunk`'s page bits that holds the bit of the shadow page of `cell`, and
  /// that bit. pre: `cell` lies in `chunk`, whose cells are 1 << `shift` bytes.
  static inline std::atomic<std::uint64_t>& page_word(std::uint8_t* chunk, const void* cell, unsigned shift,
                                                      std::uint64_t* bit) noexcept;
  /// Whether a block was ever entered on the shadow page of `cell` (in `chunk`); if not,
  /// every cell there is zero. (The free path reads cells without asking: one more load per
  /// free cost more than the kernel's zero page it may map, which uses no memory.)
  inline bool page_in_use(std::uint8_t* chunk, const void* cell) const noexcept;
  inline std::uint32_t load(const void* cell) const noexcept;
  inline void store(void* cell, std::uint32_t value) const noexcept;
  /// The cell of a live block at `address`, its entry decoded into `info`; nullptr if none.
  inline void* live_cell(std::uintptr_t address, BlockInfo* info) const noexcept;
  inline std::size_t usable(std::uintptr_t address) const noexcept;
  /// Maps the chunk of `address`'s region (or finds the one another thread just mapped).
  /// nullptr when out of memory or chunk slots.
  std::uint8_t* add_chunk(std::uintptr_t address) noexcept;
  static std::size_t chunk_bytes(unsigned shift) noexcept { return granules_per_region << shift; }
  // The chunk and its page bits (one bit per page of cells; at most 512 bits).
  std::size_t mapping_bytes() const noexcept { return chunk_bytes(m_cell_shift) + shadow_page; }
  // Larger blocks enter only onto shadow pages already in use: the first block on a fresh
  // page commits the whole page (4 KiB), which only a block of at most this size may do
  // (it then holds many such blocks' cells: no more than 32 bytes of cells per block).
  static std::size_t max_usable(unsigned shift) noexcept { return std::size_t{512} >> shift; }
  static bool holdable(std::uintptr_t address) noexcept {
    return (address & ((std::uintptr_t{1} << granule_bits) - 1)) == 0 && address >> address_bits == 0;
  }

  using Leaf = std::atomic<std::uint8_t*>;  // leaf_entries of them, mapped
  std::atomic<Leaf*> m_top[top_entries] = {};
  bool m_enabled = false;
  UsableSizeFunction m_usable = nullptr;
  bool m_glibc = false;       // the allocator is glibc's: read its chunk headers directly
  bool m_light_fast = false;  // enabled, glibc's allocator and one-byte cells: the light fast paths apply
  unsigned m_cell_shift = 0;  // log2 of the cell size: 0 (one byte) or 1 (two bytes)
  // Chunks in mapping order, for memory_bytes (each slot claimed by a fetch_add; readers
  // skip slots not yet filled).
  static constexpr std::size_t max_chunks = 4096;  // 64 GiB of heap address range
  std::atomic<std::uint8_t*> m_chunks[max_chunks] = {};
  std::atomic<std::size_t> m_chunk_count{0};
};

inline std::size_t BlockShadow::usable(std::uintptr_t address) const noexcept {
  return m_glibc ? platform::glibc_usable_size(reinterpret_cast<const void*>(address))
                 : m_usable(reinterpret_cast<void*>(address));
}

inline std::uint8_t* BlockShadow::chunk_of(std::uintptr_t address) const noexcept {
  const Leaf* leaf = m_top[address >> (region_bits + leaf_bits)].load(std::memory_order_acquire);
  return leaf == nullptr ? nullptr
                         : leaf[(address >> region_bits) & (leaf_entries - 1)].load(std::memory_order_acquire);
}

inline std::uint8_t* BlockShadow::cell_in(std::uint8_t* chunk, std::uintptr_t address, unsigned shift) noexcept {
  std::size_t granule = (address & ((std::uintptr_t{1} << region_bits) - 1)) >> granule_bits;
  return chunk + (granule << shift);
}

inline void* BlockShadow::cell(std::uintptr_t address) const noexcept {
  std::uint8_t* chunk = chunk_of(address);
  return chunk != nullptr ? cell_in(chunk, address, m_cell_shift) : nullptr;
}

inline std::atomic<std::uint64_t>& BlockShadow::page_word(std::uint8_t* chunk, const void* cell, unsigned shift,
                                                          std::uint64_t* bit) noexcept {
  std::size_t page = static_cast<std::size_t>(static_cast<const std::uint8_t*>(cell) - chunk) / shadow_page;
  *bit = std::uint64_t{1} << (page % 64);
  return page_bits(chunk, shift)[page / 64];
}

inline bool BlockShadow::page_in_use(std::uint8_t* chunk, const void* cell) const noexcept {
  std::uint64_t bit = 0;
  return (page_word(chunk, cell, m_cell_shift, &bit).load(std::memory_order_relaxed) & bit) != 0;
}

// Relaxed: a free of a block on another thread happens after the program handed the pointer
// over, which orders it after the allocating thread's store (of the cell and its page bit).
inline std::uint32_t BlockShadow::load(const void* cell) const noexcept {
  if (m_cell_shift != 0) {
    return __atomic_load_n(static_cast<const std::uint16_t*>(cell), __ATOMIC_RELAXED);
  }
  return static_cast<std::uint32_t>(__atomic_load_n(static_cast<const std::uint8_t*>(cell), __ATOMIC_RELAXED)) << 8;
}

inline void BlockShadow::store(void* cell, std::uint32_t value) const noexcept {
  if (m_cell_shift != 0) {
    __atomic_store_n(static_cast<std::uint16_t*>(cell), static_cast<std::uint16_t>(value), __ATOMIC_RELAXED);
  } else {
    __atomic_store_n(static_cast<std::uint8_t*>(cell), static_cast<std::uint8_t>(value >> 8), __ATOMIC_RELAXED);
  }
}

__attribute__((always_inline)) inline bool BlockShadow::enter(std::uintptr_t address, std::size_t size,
                                                              AllocFamily family, std::uint32_t stack_index) noexcept {
  static_assert(static_cast<unsigned>(AllocFamily::new_array) + 1 <= 3, "the cell's family field has two bits");
  if (!m_enabled || !holdable(address) || family == AllocFamily::reported) {
    return false;
  }
  std::size_t room = usable(address);
  if (room < size || room - size > slack_mask) {
    return false;
  }
  std::uint8_t* chunk = chunk_of(address);
  if (__builtin_expect(chunk == nullptr, 0) && (chunk = add_chunk(address)) == nullptr) {
    return false;
  }
  void* target = cell_in(chunk, address, m_cell_shift);
  std::uint64_t bit = 0;
  std::atomic<std::uint64_t>& pages = page_word(chunk, target, m_cell_shift, &bit);
  std::uint64_t used = pages.load(std::memory_order_relaxed);
  if ((used & bit) == 0) {
    if (room > max_usable(m_cell_shift)) {
      return false;  // it would commit a shadow page of its own
    }
    pages.fetch_or(bit, std::memory_order_relaxed);
  }
  store(target, (static_cast<std::uint32_t>(family) + 1) << family_shift |
                    static_cast<std::uint32_t>(room - size) << slack_shift | stack_index);
  return true;
}

inline void* BlockShadow::live_cell(std::uintptr_t address, BlockInfo* info) const noexcept {
  if (!m_enabled || !holdable(address)) {
    return nullptr;
  }
  void* target = cell(address);
  if (target == nullptr) {
    return nullptr;
  }
  std::uint32_t value = load(target);
  if ((value >> family_shift) == 0) {
    return nullptr;
  }
  std::size_t room = usable(address);
  std::uint32_t slack = (value >> slack_shift) & slack_mask;
  if (room < slack) {
    return nullptr;  // a stale cell (a free the runtime did not see) under another block
  }
  info->size = room - slack;
  info->stack = value & 0xffU;
  info->family = static_cast<AllocFamily>((value >> family_shift) - 1);
  return target;
}

__attribute__((always_inline)) inline bool BlockShadow::enter_light(std::uintptr_t address, std::size_t size,
                                                                    AllocFamily family) noexcept {
  if (!m_light_fast || !holdable(address) || family == AllocFamily::reported) {
    return false;
  }
  std::size_t room = platform::glibc_usable_size(reinterpret_cast<const void*>(address));
  std::uint8_t* chunk = chunk_of(address);
  if (room < size || room - size > slack_mask || chunk == nullptr) {
    return false;
  }
  std::uint8_t* target = cell_in(chunk, address, light_shift);
  std::uint64_t bit = 0;
  std::atomic<std::uint64_t>& pages = page_word(chunk, target, light_shift, &bit);
  if ((pages.load(std::memory_order_relaxed) & bit) == 0) {
    if (room > max_usable(light_shift)) {
      return false;
    }
    pages.fetch_or(bit, std::memory_order_relaxed);
  }
  __atomic_store_n(target,
                   static_cast<std::uint8_t>((static_cast<std::uint32_t>(family) + 1) << (family_shift - 8) |
                                             static_cast<std::uint32_t>(room - size)),
                   __ATOMIC_RELAXED);
  return true;
}

__attribute__((always_inline)) inline bool BlockShadow::take_light(std::uintptr_t address, BlockInfo* info) noexcept {
  if (!m_light_fast || !holdable(address)) {
    return false;
  }
  std::uint8_t* chunk = chunk_of(address);
  if (chunk == nullptr) {
    return false;
  }
  std::uint8_t* target = cell_in(chunk, address, light_shift);
  std::uint32_t value = __atomic_load_n(target, __ATOMIC_RELAXED);
  std::uint32_t slack = value & slack_mask;
  if ((value >> (family_shift - 8)) == 0) {
    return false;
  }
  std::size_t room = platform::glibc_usable_size(reinterpret_cast<const void*>(address));
  if (room < slack) {
    return false;  // a stale cell: take() and the table decide
  }
  info->size = room - slack;
  info->family = static_cast<AllocFamily>((value >> (family_shift - 8)) - 1);
  __atomic_store_n(target, std::uint8_t{0}, __ATOMIC_RELAXED);
  return true;
}

inline bool BlockShadow::take(std::uintptr_t address, BlockInfo* info) noexcept {
  void* target = live_cell(address, info);
  if (target == nullptr) {
    return false;
  }
  store(target, 0);
  return true;
}

}  // namespace measure::detail
