// A static bump arena for the allocations the loader makes while our originals are being
// resolved (dlsym may call malloc/calloc before we know where the real ones are). Its blocks
// are never reused; free() ignores them, realloc() copies them out, malloc_usable_size()
// answers for them.
#pragma once

#include <cstddef>

namespace measure::hooks {

inline constexpr std::size_t bootstrap_arena_size = 256 * 1024;
extern unsigned char g_bootstrap_arena[bootstrap_arena_size];

/// A zeroed block of `size` bytes aligned to `alignment` (a power of two, at most 4096).
/// nullptr when the arena is exhausted.
void* bootstrap_allocate(std::size_t size, std::size_t alignment = 16) noexcept;
/// Inline: every free asks.
inline bool is_bootstrap_block(const void* p) noexcept {
  auto* b = static_cast<const unsigned char*>(p);
  return b >= g_bootstrap_arena && b < g_bootstrap_arena + bootstrap_arena_size;
}
/// The requested size of a bootstrap block. pre: is_bootstrap_block(p).
std::size_t bootstrap_block_size(const void* p) noexcept;

}  // namespace measure::hooks
