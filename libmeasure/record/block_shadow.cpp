#include "record/block_shadow.h"

#include "platform/platform.h"

namespace measure::detail {

bool BlockShadow::enable(UsableSizeFunction function, bool with_stacks) noexcept {
  if (function == nullptr || m_enabled) {
    return m_enabled;
  }
  m_usable = function;
  m_cell_shift = with_stacks ? 1 : 0;
  // Under the sanitizers the allocator is theirs, and a read outside a block is what they
  // report: always ask the function there.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  m_glibc = platform::in_glibc(reinterpret_cast<const void*>(function));
#endif
  m_enabled = true;
  m_light_fast = m_glibc && m_cell_shift == light_shift;
  return true;
}

std::atomic<std::uint8_t*>* BlockShadow::slot_of(std::uintptr_t address, bool create) noexcept {
  std::atomic<Leaf*>& top = m_top[address >> (region_bits + leaf_bits)];
  Leaf* leaf = top.load(std::memory_order_acquire);
  if (leaf == nullptr && create) {
    auto* fresh = static_cast<Leaf*>(platform::map_pages(leaf_entries * sizeof(Leaf)));
    if (fresh != nullptr && !top.compare_exchange_strong(leaf, fresh, std::memory_order_acq_rel)) {
      platform::unmap_pages(fresh, leaf_entries * sizeof(Leaf));  // another thread mapped it first
    } else {
      leaf = fresh;
    }
  }
  return leaf == nullptr ? nullptr : &leaf[(address >> region_bits) & (leaf_entries - 1)];
}

std::uint8_t* BlockShadow::add_chunk(std::uintptr_t address) noexcept {
  std::size_t slot = m_chunk_count.fetch_add(1, std::memory_order_relaxed);
  if (slot >= max_chunks) {
    m_chunk_count.fetch_sub(1, std::memory_order_relaxed);
    return nullptr;
  }
  std::atomic<std::uint8_t*>* entry = slot_of(address, true);
  auto* chunk = entry != nullptr ? static_cast<std::uint8_t*>(platform::map_pages(mapping_bytes())) : nullptr;
  std::uint8_t* expected = nullptr;
  if (chunk == nullptr || !entry->compare_exchange_strong(expected, chunk, std::memory_order_acq_rel)) {
    // Out of memory, or another thread mapped this region's chunk first. The claimed slot
    // stays empty (memory_bytes skips it).
    platform::unmap_pages(chunk, mapping_bytes());
    return expected;
  }
  m_chunks[slot].store(chunk, std::memory_order_release);
  return chunk;
}

void BlockShadow::clear(std::uintptr_t address) noexcept {
  if (!m_enabled || !holdable(address)) {
    return;
  }
  // Only a live cell is written: a store would commit the shadow page of a block that
  // takes the table because its page is not in use.
  std::uint8_t* chunk = chunk_of(address);
  if (chunk == nullptr) {
    return;
  }
  if (void* target = cell_in(chunk, address, m_cell_shift); page_in_use(chunk, target) && load(target) != 0) {
    store(target, 0);
  }
}

std::uint64_t BlockShadow::memory_bytes() const noexcept {
  if (!m_enabled) {
    return 0;
  }
  std::uint64_t total = 0;
  for (const std::atomic<Leaf*>& top : m_top) {
    if (const Leaf* leaf = top.load(std::memory_order_acquire)) {
      total += platform::resident_bytes_of(leaf, leaf_entries * sizeof(Leaf));
    }
  }
  std::size_t count = m_chunk_count.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < count && i < max_chunks; ++i) {
    if (std::uint8_t* chunk = m_chunks[i].load(std::memory_order_acquire)) {
      // Every store goes to a page whose bit is set (enter sets it first; take and clear
      // write only live cells), so the bits count the written pages exactly.
      const std::atomic<std::uint64_t>* bits = page_bits(chunk, m_cell_shift);
      std::uint64_t pages = 0;
      for (std::size_t w = 0; w < chunk_bytes(m_cell_shift) / shadow_page / 64; ++w) {
        pages += static_cast<std::uint64_t>(__builtin_popcountll(bits[w].load(std::memory_order_relaxed)));
      }
      total += (pages + (pages != 0 ? 1 : 0)) * shadow_page;
    }
  }
  return total;
}

}  // namespace measure::detail
