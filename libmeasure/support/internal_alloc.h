// The toolkit's own memory. Everything the runtime allocates comes from mimalloc, never from
// the program's allocator, so measuring neither recurses into the hooks nor disturbs what is
// measured. Bytes in use are counted so reports can state the toolkit's own memory apart.
#pragma once

#include <cstddef>
#include <cstdint>

namespace measure::detail {

/// Zeroed memory of `size` bytes, or nullptr when out of memory (callers degrade and count).
void* internal_alloc(std::size_t size) noexcept;
/// Releases memory from internal_alloc. `size` must be the size that was requested.
void internal_free(void* p, std::size_t size) noexcept;
/// Bytes the toolkit currently holds from internal_alloc.
std::uint64_t internal_bytes() noexcept;
/// The highest value internal_bytes() has had.
std::uint64_t internal_peak_bytes() noexcept;

}  // namespace measure::detail
