// Byte-weighted Poisson sampling for sampled mode. The bytes a thread allocates are one long
// stream; sample points fall on it as a Poisson process with mean interval T (the sample
// interval), and an allocation is sampled when at least one point falls in its bytes: with
// probability p = 1 - exp(-size / T), independently of every other allocation. A sampled
// allocation then stands for 1/p allocations of its size, which makes the per-stack sums
// unbiased estimates of the exact counts and bytes (Horvitz-Thompson). The distance to the
// next point is a countdown, so an allocation that is not sampled costs one subtraction.
// Deterministic: the same seed and the same allocations give the same samples and the same
// estimates (nothing depends on addresses, which differ from run to run).
#pragma once

#include <cstdint>

namespace measure::detail {

class Sampler {
 public:
  /// Starts a fresh stream of sample points with mean interval `interval` (>= 1 byte).
  void start(std::uint64_t interval, std::uint64_t seed) noexcept;
  /// True when an allocation of `size` bytes is sampled. Owner thread only.
  bool take(std::uint64_t size) noexcept {
    if (__builtin_expect(size < m_countdown, 1)) {
      m_countdown -= size;
      return false;
    }
    m_countdown = next_interval();  // points past the first in this block do not matter
    return true;
  }
  /// Whether the estimated count of a sampled allocation of `size` bytes is rounded up (see
  /// sample_weight): with probability the fraction of 1/p, so that counts stay unbiased for
  /// large blocks, where 1/p is close to 1. Drawn from the same stream. Owner thread only.
  bool round_up(std::uint64_t size) noexcept;

 private:
  std::uint64_t next_random() noexcept;
  std::uint64_t next_interval() noexcept;

  std::uint64_t m_countdown = ~std::uint64_t{0};  // bytes until the next sample point
  std::uint64_t m_interval = 0;
  std::uint64_t m_random = 0;
};

/// What one sampled allocation of `size` bytes stands for, at mean interval `interval`: 1/p
/// allocations, rounded down, or up when `round_up` (Sampler::round_up decided it when the
/// block was allocated, and the block keeps the decision), and size/p bytes. A pure function
/// of its arguments, so a free takes back exactly what the allocation added.
struct SampleWeight {
  std::uint64_t count;
  std::uint64_t bytes;
};
SampleWeight sample_weight(std::uint64_t size, std::uint64_t interval, bool round_up) noexcept;

}  // namespace measure::detail
