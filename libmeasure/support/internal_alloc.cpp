#include "support/internal_alloc.h"

#include <mimalloc.h>

#include <atomic>

namespace measure::detail {
namespace {
std::atomic<std::uint64_t> g_bytes{0};
std::atomic<std::uint64_t> g_peak{0};
}  // namespace

void* internal_alloc(std::size_t size) noexcept {
  void* p = mi_zalloc_aligned(size, 64);
  if (p != nullptr) {
    std::uint64_t now = g_bytes.fetch_add(size, std::memory_order_relaxed) + size;
    std::uint64_t peak = g_peak.load(std::memory_order_relaxed);
    while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }
  return p;
}

void internal_free(void* p, std::size_t size) noexcept {
  if (p != nullptr) {
    g_bytes.fetch_sub(size, std::memory_order_relaxed);
    mi_free(p);
  }
}

std::uint64_t internal_bytes() noexcept {
  return g_bytes.load(std::memory_order_relaxed);
}
std::uint64_t internal_peak_bytes() noexcept {
  return g_peak.load(std::memory_order_relaxed);
}

}  // namespace measure::detail
