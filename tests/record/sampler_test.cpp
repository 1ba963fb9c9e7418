// Sampled mode's statistics (record/sampler.h): the distance between sample points is
// exponential with the configured mean, the weights of sampled allocations add up to the exact
// counts and bytes, and a seed fixes the stream. One case is an expected failure: the sampler
// draws whole bytes so that an allocation right after a sample point is sampled as if one byte
// longer (see the last case, and the fix it names).
//
// The statistical checks allow 5 standard deviations of the quantity they check, computed from
// the number of draws: a correct sampler fails one with probability below 6e-7 for an arbitrary
// seed. The seeds are fixed, so every run draws the same numbers and the outcome is repeatable.
#include "record/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <vector>

#include <doctest/doctest.h>

namespace measure::detail {
namespace {

constexpr double sigmas = 5;
constexpr std::uint64_t seeds[] = {1, 0x5eed, 0x9e3779b97f4a7c15};

// The bytes until the sampler's next sample point: the smallest allocation it would sample,
// found by asking copies of it (what a copy draws leaves the sampler itself as it was).
std::uint64_t distance_to_next_point(const Sampler& sampler) {
  std::uint64_t low = 1;  // take(low - 1) is false
  std::uint64_t high = ~std::uint64_t{0};
  while (low < high) {
    std::uint64_t mid = low + (high - low) / 2;
    Sampler copy = sampler;
    if (copy.take(mid)) {
      high = mid;
    } else {
      low = mid + 1;
    }
  }
  return low;
}

// `count` successive distances between sample points of a stream.
std::vector<std::uint64_t> distances(std::uint64_t interval, std::uint64_t seed, std::size_t count) {
  Sampler sampler;
  sampler.start(interval, seed);
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t d = distance_to_next_point(sampler);
    out.push_back(d);
    REQUIRE(sampler.take(d));  // reaches the point: the next distance is drawn
  }
  return out;
}

// What one simulated allocation stream's sampled allocations stand for, per size.
struct Estimate {
  double count = 0;
  double bytes = 0;
  double count_variance = 0;  // of the estimate, from the sampling probabilities
  double bytes_variance = 0;
  double samples = 0;  // expected number of sampled allocations
};

}  // namespace

TEST_CASE("sampler: distances between sample points average the interval, exponentially spread") {
  constexpr std::size_t draws = 100000;
  for (std::uint64_t interval : {std::uint64_t{4096}, std::uint64_t{512} << 10, std::uint64_t{16} << 20}) {
    for (std::uint64_t seed : seeds) {
      CAPTURE(interval);
      CAPTURE(seed);
      std::vector<std::uint64_t> d = distances(interval, seed, draws);
      double sum = 0;
      std::size_t above_mean = 0;
      std::size_t below_median = 0;
      auto t = static_cast<double>(interval);
      for (std::uint64_t x : d) {
        sum += static_cast<double>(x);
        above_mean += static_cast<double>(x) > t ? 1 : 0;
        below_median += static_cast<double>(x) < t * std::log(2.0) ? 1 : 0;
      }
      // The mean: an exponential's standard deviation is its mean, so that of the average of
      // n draws is T / sqrt(n) (0.32% of T for 100,000 draws; the margin is 1.6%). Distances
      // are whole bytes, which moves the mean by less than a byte.
      double mean = sum / draws;
      CHECK(std::abs(mean - t) <= sigmas * t / std::sqrt(double{draws}) + 1);
      // The shape: P(X > T) = 1/e and P(X < T ln 2) = 1/2 for an exponential (not for, say,
      // distances all equal to T); each a binomial proportion, with standard deviation
      // sqrt(p (1 - p) / n).
      double p_above = std::exp(-1.0);
      CHECK(std::abs(static_cast<double>(above_mean) / draws - p_above) <=
            sigmas * std::sqrt(p_above * (1 - p_above) / draws));
      CHECK(std::abs(static_cast<double>(below_median) / draws - 0.5) <= sigmas * std::sqrt(0.25 / draws));
    }
  }
}

TEST_CASE("sampler: weighted sampled allocations of a program's sizes estimate the exact counts and bytes") {
  // One thread's allocations as the recorder treats them: take(size) decides, round_up is
  // drawn for a sampled block, and sample_weight says what it stands for. Sizes from 16 bytes
  // to 64 KiB in a fixed pseudo-random order, at a 64 KiB interval: most are rarely sampled and
  // stand for thousands, the largest are sampled most of the time.
  constexpr std::uint64_t interval = 64 * 1024;
  constexpr std::uint64_t sizes[] = {16, 48, 128, 512, 4096, 65536};
  constexpr std::size_t allocations = 24000000;
  for (std::uint64_t seed : seeds) {
    CAPTURE(seed);
    Estimate estimates[std::size(sizes)];
    double made[std::size(sizes)] = {};
    Sampler sampler;
    sampler.start(interval, seed);
    std::uint64_t order = seed | 1;
    for (std::size_t n = 0; n < allocations; ++n) {
      order ^= order << 13;
      order ^= order >> 7;
      order ^= order << 17;
      std::size_t i = order % std::size(sizes);
      made[i] += 1;
      if (sampler.take(sizes[i])) {
        SampleWeight w = sample_weight(sizes[i], interval, sampler.round_up(sizes[i]));
        estimates[i].count += static_cast<double>(w.count);
        estimates[i].bytes += static_cast<double>(w.bytes);
      }
    }
    Estimate total;
    double exact_count = 0;
    double exact_bytes = 0;
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
      CAPTURE(sizes[i]);
      // Each allocation is sampled with p = 1 - e^(-size / T), independently of the others, and
      // then counts 1/p (rounded down or up, up with the probability of the fraction f) and
      // size/p bytes (to the nearest byte): per allocation the variance of the count is
      // 1/p - 1 + p f (1 - f), that of the bytes size^2 (1/p - 1). Rounding bytes moves each
      // sample by at most half a byte.
      auto size = static_cast<double>(sizes[i]);
      double p = -std::expm1(-size / interval);
      double f = 1 / p - std::floor(1 / p);
      Estimate& e = estimates[i];
      e.count_variance = made[i] * (1 / p - 1 + p * f * (1 - f));
      e.bytes_variance = made[i] * size * size * (1 / p - 1);
      e.samples = made[i] * p;
      CHECK(std::abs(e.count - made[i]) <= sigmas * std::sqrt(e.count_variance));
      CHECK(std::abs(e.bytes - made[i] * size) <= sigmas * std::sqrt(e.bytes_variance) + 0.5 * e.samples);
      total.count += e.count;
      total.bytes += e.bytes;
      total.count_variance += e.count_variance;
      total.bytes_variance += e.bytes_variance;
      total.samples += e.samples;
      exact_count += made[i];
      exact_bytes += made[i] * size;
    }
    CHECK(std::abs(total.count - exact_count) <= sigmas * std::sqrt(total.count_variance));
    CHECK(std::abs(total.bytes - exact_bytes) <= sigmas * std::sqrt(total.bytes_variance) + 0.5 * total.samples);
  }
}

TEST_CASE("sampler: a seed fixes the stream; another seed, or none, gives another") {
  // Sizes that vary, as a program's do.
  std::vector<std::uint64_t> sizes;
  std::uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 200000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sizes.push_back(1 + x % 20000);
  }
  // What the sampler decides for each allocation: sampled, and if so rounded up.
  auto decisions = [&](std::uint64_t seed) {
    Sampler sampler;
    sampler.start(64 * 1024, seed);
    std::vector<std::uint8_t> out;
    for (std::uint64_t size : sizes) {
      bool sampled = sampler.take(size);
      out.push_back(static_cast<std::uint8_t>(sampled ? 1 + (sampler.round_up(size) ? 1 : 0) : 0));
    }
    return out;
  };
  std::vector<std::uint8_t> first = decisions(0x5eed);
  CHECK(decisions(0x5eed) == first);
  CHECK(decisions(0x5eee) != first);
  // Seed 0 stands for a fixed seed of its own (a xorshift generator would stay at 0): its
  // stream is repeatable and its distances vary.
  CHECK(decisions(0) == decisions(0));
  std::vector<std::uint64_t> from_zero = distances(4096, 0, 100);
  CHECK(std::count(from_zero.begin(), from_zero.end(), from_zero[0]) < 10);

  // start() begins the stream again.
  Sampler sampler;
  sampler.start(4096, 7);
  std::uint64_t d = distance_to_next_point(sampler);
  REQUIRE(sampler.take(d));
  sampler.start(4096, 7);
  CHECK(distance_to_next_point(sampler) == d);
}

TEST_CASE("sample_weight: exact counts and bytes for sizes below, at and far above the interval") {
  // 1/p = 1 / (1 - e^(-size / T)), computed to 20 digits elsewhere.
  struct Case {
    std::uint64_t size;
    std::uint64_t interval;
    std::uint64_t count;  // floor(1/p)
    std::uint64_t bytes;  // size / p to the nearest byte
  };
  const Case cases[] = {
      {4096, 4096, 1, 6480},                                      // 1/p = 1.58197670686932642
      {65536, 65536, 1, 103676},                                  // the same 1/p
      {1000, 4096, 4, 4616},                                      // 1/p = 4.61632486972988159
      {3, 1000, 333, 1002},                                       // 1/p = 333.833583333295833
      {300000, 524288, 2, 688516},                                // 1/p = 2.29505218599702477
      {std::uint64_t{1} << 30, 4096, 1, std::uint64_t{1} << 30},  // p = 1 to double precision
  };
  for (const Case& c : cases) {
    CAPTURE(c.size);
    CAPTURE(c.interval);
    SampleWeight down = sample_weight(c.size, c.interval, false);
    SampleWeight up = sample_weight(c.size, c.interval, true);
    CHECK(down.count == c.count);
    CHECK(down.bytes == c.bytes);
    CHECK(up.count == c.count + 1);  // rounding up adds one block, no bytes
    CHECK(up.bytes == c.bytes);
  }
  // A zero-byte block is never sampled by the countdown and stands for itself.
  CHECK(sample_weight(0, 4096, false).count == 1);
  CHECK(sample_weight(0, 4096, false).bytes == 0);
}

// Sampler::next_interval draws a distance of ceil(X) bytes for X exponential with mean T, so
// the allocation that meets a freshly drawn distance (the first after a sample point) is
// sampled when X <= size: with probability 1 - e^(-size / T), the probability its weight
// assumes. (Drawing floor(X) would sample it with probability 1 - e^(-(size + 1) / T) and
// over-count a small block after a sampled one by (size + 1) / size: 12.5% for 8 bytes.)
TEST_CASE("sampler: the first allocation after a sample point is sampled with probability 1 - e^(-size/T)") {
  // Directly: a block far above the interval (always sampled) and then 8 bytes, at T = 16.
  // The 8 bytes are sampled with probability 1 - e^(-1/2) = 0.3935 (floor(X) would give
  // 1 - e^(-9/16) = 0.4302); n draws give a binomial proportion with standard deviation sqrt(p (1 - p) / n).
  constexpr std::size_t draws = 1000000;
  constexpr double interval = 16;
  Sampler sampler;
  sampler.start(16, 0x5eed);
  std::size_t sampled = 0;
  for (std::size_t i = 0; i < draws; ++i) {
    REQUIRE(sampler.take(std::uint64_t{1} << 40));
    sampled += sampler.take(8) ? 1 : 0;
  }
  double p = -std::expm1(-8 / interval);
  CHECK(std::abs(static_cast<double>(sampled) / draws - p) <= sigmas * std::sqrt(p * (1 - p) / draws));

  // As the estimates see it: 8-byte blocks, each after a block far above the interval, at
  // T = 4096. The 8-byte blocks' estimated count is 2,000,000 within 5 standard deviations
  // of sqrt(n (1/p - 1)) (8%); floor(X) would put it 12.5% above.
  constexpr std::size_t pairs = 2000000;
  sampler.start(4096, 0x5eed);
  double estimate = 0;
  for (std::size_t i = 0; i < pairs; ++i) {
    REQUIRE(sampler.take(std::uint64_t{1} << 20));
    sampler.round_up(std::uint64_t{1} << 20);
    if (sampler.take(8)) {
      estimate += static_cast<double>(sample_weight(8, 4096, sampler.round_up(8)).count);
    }
  }
  double q = -std::expm1(-8.0 / 4096);
  CHECK(std::abs(estimate - double{pairs}) <= sigmas * std::sqrt(pairs * (1 / q - 1)));
}

}  // namespace measure::detail
