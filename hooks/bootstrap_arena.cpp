#include "hooks/bootstrap_arena.h"

#include <atomic>
#include <cstdint>
#include <cstring>

namespace measure::hooks {

alignas(4096) unsigned char g_bootstrap_arena[bootstrap_arena_size];

namespace {

constexpr std::size_t header = 16;  // the block's size, just below the block
std::atomic<std::size_t> g_used{0};

}  // namespace

void* bootstrap_allocate(std::size_t size, std::size_t alignment) noexcept {
  if (alignment < 16) {
    alignment = 16;
  }
  if (size > bootstrap_arena_size || alignment > 4096) {
    return nullptr;
  }
  std::size_t used = g_used.load(std::memory_order_relaxed);
  for (;;) {
    std::size_t start = (used + header + alignment - 1) & ~(alignment - 1);
    std::size_t end = start + size;
    if (end > bootstrap_arena_size) {
      return nullptr;
    }
    if (g_used.compare_exchange_weak(used, end, std::memory_order_relaxed)) {
      std::memcpy(g_bootstrap_arena + start - sizeof(std::size_t), &size, sizeof size);
      return g_bootstrap_arena + start;
    }
  }
}

std::size_t bootstrap_block_size(const void* p) noexcept {
  std::size_t size = 0;
  std::memcpy(&size, static_cast<const unsigned char*>(p) - sizeof(std::size_t), sizeof size);
  return size;
}

}  // namespace measure::hooks
