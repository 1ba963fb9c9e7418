#include "record/sampler.h"

#include <cstring>

namespace measure::detail {
namespace {

// The runtime does not link libm; these two are accurate to about 1e-9 relative, far below
// the sampling error.

// ln(x) for x > 0: x = m * 2^e with m in [1, 2), ln(m) = 2 atanh((m - 1) / (m + 1)).
double natural_log(double x) noexcept {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &x, sizeof bits);
  int exponent = static_cast<int>((bits >> 52) & 0x7ff) - 1023;
  bits = (bits & ((std::uint64_t{1} << 52) - 1)) | (std::uint64_t{1023} << 52);
  double m = 0;
  std::memcpy(&m, &bits, sizeof m);
  if (m > 1.4142135623730951) {  // keep z small: m in [0.707, 1.414)
    m *= 0.5;
    ++exponent;
  }
  double z = (m - 1) / (m + 1);
  double z2 = z * z;
  double series = 0;
  for (int k = 13; k >= 1; k -= 2) {
    series = series * z2 + 1.0 / k;
  }
  return 2 * z * series + exponent * 0.6931471805599453;
}

// 1 - exp(-x) for x >= 0, without cancellation for small x.
double one_minus_exp_neg(double x) noexcept {
  if (x > 40) {
    return 1;
  }
  if (x < 0.5) {
    double term = x;
    double sum = x;
    for (int k = 2; k < 16; ++k) {
      term *= -x / k;
      sum += term;
    }
    return sum;
  }
  // exp(-x) = exp(-x / 2^k) ^ (2^k) with x / 2^k < 0.5.
  int halvings = 0;
  double y = x;
  while (y >= 0.5) {
    y *= 0.5;
    ++halvings;
  }
  double term = 1;
  double e = 1;
  for (int k = 1; k < 16; ++k) {
    term *= -y / k;
    e += term;
  }
  for (int i = 0; i < halvings; ++i) {
    e *= e;
  }
  return 1 - e;
}

// 1/p for an allocation of `size` bytes at mean interval `interval`. pre: size > 0.
double inverse_probability(std::uint64_t size, std::uint64_t interval) noexcept {
  return 1 / one_minus_exp_neg(static_cast<double>(size) / static_cast<double>(interval));
}

// A uniform double in [0, 1) from the top 53 bits of `bits`.
double unit_interval(std::uint64_t bits) noexcept {
  return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace

void Sampler::start(std::uint64_t interval, std::uint64_t seed) noexcept {
  m_interval = interval;
  m_random = seed != 0 ? seed : 0x9e3779b97f4a7c15ULL;
  m_countdown = next_interval();
}

std::uint64_t Sampler::next_random() noexcept {
  // xorshift64*
  m_random ^= m_random >> 12;
  m_random ^= m_random << 25;
  m_random ^= m_random >> 27;
  return m_random * 0x2545f4914f6cdd1dULL;
}

std::uint64_t Sampler::next_interval() noexcept {
  // 53 random bits make a uniform u in (0, 1]; -ln(u) * T is exponential.
  double u = unit_interval(next_random()) + 1.0 / 9007199254740992.0;
  double bytes = -natural_log(u) * static_cast<double>(m_interval);
  if (bytes >= 18446744073709549568.0) {  // the largest double below 2^64: no overflow
    return ~std::uint64_t{0};
  }
  // The allocation that reaches the countdown is sampled: ceil(X) makes that happen with
  // probability exactly 1 - e^(-size/T), the probability sample_weight divides by (floor(X)
  // would add a byte to every first allocation after a sample point).
  auto whole = static_cast<std::uint64_t>(bytes);
  whole += static_cast<double>(whole) < bytes ? 1 : 0;
  return whole < 1 ? 1 : whole;
}

bool Sampler::round_up(std::uint64_t size) noexcept {
  if (size == 0) {
    return false;
  }
  double count = inverse_probability(size, m_interval);
  double fraction = count - static_cast<double>(static_cast<std::uint64_t>(count));
  return unit_interval(next_random()) < fraction;
}

SampleWeight sample_weight(std::uint64_t size, std::uint64_t interval, bool round_up) noexcept {
  if (size == 0) {
    return SampleWeight{1, 0};  // never sampled by the countdown; stands for itself
  }
  double count = inverse_probability(size, interval);
  return SampleWeight{
      static_cast<std::uint64_t>(count) + (round_up ? 1U : 0U),
      // Non-negative, and the runtime links no libm for lround.
      static_cast<std::uint64_t>(static_cast<double>(size) * count + 0.5)};  // NOLINT(bugprone-incorrect-roundings)
}

}  // namespace measure::detail
