// Hashes used by the runtime's tables. Fast, not cryptographic; tables verify keys.
#pragma once

#include <cstddef>
#include <cstdint>

namespace measure::detail {

/// A full-avalanche 64-bit mix (the finalizer of MurmurHash3).
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

/// Hash of a call stack (frames and the module generation they belong to). Never returns 0,
/// so 0 can mark empty slots.
inline std::uint64_t hash_frames(const std::uintptr_t* frames, std::size_t count, std::uint32_t generation) noexcept {
  std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ (static_cast<std::uint64_t>(generation) << 32) ^ count;
  for (std::size_t i = 0; i < count; ++i) {
    h = (h << 5 | h >> 59) ^ frames[i];
    h *= 0x9e3779b97f4a7c15ULL;
  }
  h = mix64(h);
  return h != 0 ? h : 1;
}

}  // namespace measure::detail
