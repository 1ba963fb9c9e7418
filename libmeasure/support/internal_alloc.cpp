#include "support/internal_alloc.h"

#include <mimalloc.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#if defined(MEASURE_SANITIZER_ALLOCATOR) && defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace measure::detail {
namespace {
std::atomic<std::uint64_t> g_bytes{0};
std::atomic<std::uint64_t> g_peak{0};

// Sanitizer builds (cmake/MeasureSanitizers.cmake) take the toolkit's memory from the
// sanitizer's own allocator: uninstrumented mimalloc hands a block freed by one thread to
// another without a synchronization ThreadSanitizer can see (a false race on reuse), and
// AddressSanitizer cannot check bounds inside mimalloc's blocks. Nothing preloads there, so
// the program's allocator is not involved.
#if defined(MEASURE_SANITIZER_ALLOCATOR)
void* raw_zalloc(std::size_t size) noexcept {
  void* p = nullptr;
  if (posix_memalign(&p, 64, size == 0 ? 1 : size) != 0) {
    return nullptr;
  }
  std::memset(p, 0, size);
#if defined(__SANITIZE_ADDRESS__)
  // The runtime's tables are immortal by design (a free late in exit must still find them),
  // and tests drop the instances they build; neither is a leak to report.
  __lsan_ignore_object(p);
#endif
  return p;
}
void raw_free(void* p) noexcept {
  std::free(p);
}
#else
void* raw_zalloc(std::size_t size) noexcept {
  return mi_zalloc_aligned(size, 64);
}
void raw_free(void* p) noexcept {
  mi_free(p);
}
#endif
}  // namespace

void* internal_alloc(std::size_t size) noexcept {
  void* p = raw_zalloc(size);
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
    raw_free(p);
  }
}

std::uint64_t internal_bytes() noexcept {
  return g_bytes.load(std::memory_order_relaxed);
}
std::uint64_t internal_peak_bytes() noexcept {
  return g_peak.load(std::memory_order_relaxed);
}

}  // namespace measure::detail
