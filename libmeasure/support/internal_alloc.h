// The toolkit's own memory. Everything the runtime allocates comes from here, never from the
// program's allocator, so measuring neither recurses into the hooks nor disturbs what is
// measured. Blocks of up to a page come from size classes carved out of 64 KiB mapped slabs
// (a spin lock per class: allocations here are the runtime's rare slow paths, such as a new
// stack or a table that grows); larger ones are mapped on their own. Address space follows
// use: a general-purpose allocator (mimalloc 2.0, which this used before) reserves 32 MiB
// segments per thread that allocates, which under an address-space limit (ulimit -v) the
// program loses. Bytes in use are counted so reports can state the toolkit's own memory apart.
#pragma once

#include <cstddef>
#include <cstdint>

namespace measure::detail {

/// Zeroed memory of `size` bytes, or nullptr when out of memory (callers degrade and count).
/// Aligned to 16 bytes, and to 64 for sizes of 64 and more. Uses a few hundred bytes of stack.
void* internal_alloc(std::size_t size) noexcept;
/// Releases memory from internal_alloc. `size` must be the size that was requested.
void internal_free(void* p, std::size_t size) noexcept;
/// Bytes the toolkit currently holds from internal_alloc.
std::uint64_t internal_bytes() noexcept;
/// The highest value internal_bytes() has had.
std::uint64_t internal_peak_bytes() noexcept;

/// Fork support: take every lock before fork, release after (parent), reset (child).
void internal_alloc_before_fork() noexcept;
void internal_alloc_after_fork_parent() noexcept;
void internal_alloc_after_fork_child() noexcept;

}  // namespace measure::detail
