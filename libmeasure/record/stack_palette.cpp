#include "record/stack_palette.h"

namespace measure::detail {

std::uint32_t StackPalette::index_of(std::uint32_t stack) noexcept {
  if (stack == 0) {
    return 0;
  }
  std::uint32_t count = m_count.load(std::memory_order_acquire);
  count = count < capacity ? count : capacity;
  for (std::uint32_t i = 1; i <= count; ++i) {
    if (m_stacks[i].load(std::memory_order_relaxed) == stack) {
      return i;
    }
  }
  if (count >= capacity) {
    return 0;
  }
  std::uint32_t index = m_count.fetch_add(1, std::memory_order_acq_rel) + 1;
  if (index > capacity) {
    return 0;
  }
  m_stacks[index].store(stack, std::memory_order_release);
  return index;
}

void StackPalette::retag_all(std::uint32_t inherited) noexcept {
  std::uint32_t count = m_count.load(std::memory_order_relaxed);
  for (std::uint32_t i = 1; i <= count && i <= capacity; ++i) {
    m_stacks[i].store(inherited, std::memory_order_relaxed);
  }
}

}  // namespace measure::detail
