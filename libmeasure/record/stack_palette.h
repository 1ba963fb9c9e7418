// Up to 255 stack ids that a block's two-byte shadow cell (record/block_shadow.h) can name
// with one byte, so that blocks of those stacks need no entry in the live-block table. A
// thread asks for an index only for a stack it has allocated from `hot_allocations` times
// (SiteCounters::palette_wait), so the indices go to the stacks that allocate most, not to
// the first ones seen. Indices are handed out once and never change, except in a forked
// child, where all of them come to name the "inherited at fork" stack.
#pragma once

#include <atomic>
#include <cstdint>

#include "record/block_shadow.h"

namespace measure::detail {

class StackPalette {
 public:
  static constexpr std::uint32_t capacity = BlockShadow::max_stack_index;  // what a cell can name
  static constexpr std::uint32_t hot_allocations = 32;

  /// The index naming `stack` (1..capacity), handing out a new one if needed; 0 when the
  /// palette is full or `stack` is 0 (the unknown stack). Lock-free; two threads asking for
  /// one stack at once may get two indices, which then both name it.
  std::uint32_t index_of(std::uint32_t stack) noexcept;
  /// The stack named by `index`; 0 (the unknown stack) for index 0. pre: the block whose cell
  /// holds `index` was entered after the index was handed out (the allocating thread's own
  /// order, carried to the freeing thread by the program's synchronization).
  std::uint32_t stack(std::uint32_t index) const noexcept { return m_stacks[index].load(std::memory_order_relaxed); }
  /// Forked child, single-threaded: every index handed out so far names `inherited`.
  void retag_all(std::uint32_t inherited) noexcept;

 private:
  std::atomic<std::uint32_t> m_stacks[capacity + 1] = {};
  std::atomic<std::uint32_t> m_count{0};  // indices handed out (may overshoot capacity)
};

}  // namespace measure::detail
