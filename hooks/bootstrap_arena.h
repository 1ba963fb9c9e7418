// A static bump arena for the allocations the loader makes while our originals are being
// resolved (dlsym may call malloc/calloc before we know where the real ones are). Its blocks
// are never reused; free() ignores them, realloc() copies them out, malloc_usable_size()
// answers for them.
#pragma once

#include <cstddef>

namespace measure::hooks {

/// A zeroed block of `size` bytes aligned to `alignment` (a power of two, at most 4096).
/// nullptr when the arena is exhausted.
void* bootstrap_allocate(std::size_t size, std::size_t alignment = 16) noexcept;
bool is_bootstrap_block(const void* p) noexcept;
/// The requested size of a bootstrap block. pre: is_bootstrap_block(p).
std::size_t bootstrap_block_size(const void* p) noexcept;

}  // namespace measure::hooks
