#include "support/internal_alloc.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#if defined(MEASURE_SANITIZER_ALLOCATOR) && defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "platform/platform.h"
#include "support/spinlock.h"

namespace measure::detail {
namespace {
std::atomic<std::uint64_t> g_bytes{0};
std::atomic<std::uint64_t> g_peak{0};

// Sanitizer builds (cmake/MeasureSanitizers.cmake) take the toolkit's memory from the
// sanitizer's own allocator, which checks bounds and sees every hand-over between threads.
// Nothing preloads there, so the program's allocator is not involved.
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
void raw_free(void* p, std::size_t) noexcept {
  std::free(p);
}
void lock_all() noexcept {}
void unlock_all() noexcept {}
void reset_all() noexcept {}
#else
// Size classes of up to one page, each carved from 64 KiB slabs mapped as they are needed;
// larger blocks are mapped on their own and unmapped when freed. Freed blocks of a class go
// on its free list. A block of a class is aligned to the largest power of two dividing the
// class size (64 for every class of 64 bytes and more, which alignas(64) types need).
constexpr std::size_t class_sizes[] = {16, 32, 64, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096};
constexpr std::size_t class_count = sizeof class_sizes / sizeof class_sizes[0];
constexpr std::size_t largest_class = class_sizes[class_count - 1];
constexpr std::size_t slab_bytes = 64 * 1024;

struct FreeBlock {
  FreeBlock* next;
};

struct alignas(64) SizeClass {
  SpinLock lock;
  FreeBlock* free = nullptr;
  std::uint8_t* next = nullptr;  // the current slab's unused part
  std::uint8_t* end = nullptr;
};
SizeClass g_classes[class_count];

std::size_t class_of(std::size_t size) noexcept {
  std::size_t c = 0;
  while (class_sizes[c] < size) {
    ++c;
  }
  return c;
}

std::size_t mapped_bytes(std::size_t size) noexcept {
  std::size_t page = platform::page_size();
  return (size + page - 1) & ~(page - 1);
}

void* raw_zalloc(std::size_t size) noexcept {
  if (size > largest_class) {
    return platform::map_pages(mapped_bytes(size));  // zeroed by the kernel
  }
  std::size_t index = class_of(size == 0 ? 1 : size);
  std::size_t block = class_sizes[index];
  SizeClass& c = g_classes[index];
  SpinGuard guard(c.lock);
  if (FreeBlock* reused = c.free) {
    c.free = reused->next;
    std::memset(static_cast<void*>(reused), 0, block);
    return reused;
  }
  if (c.next == nullptr || static_cast<std::size_t>(c.end - c.next) < block) {
    auto* slab = static_cast<std::uint8_t*>(platform::map_pages(slab_bytes));
    if (slab == nullptr) {
      return nullptr;
    }
    c.next = slab;
    c.end = slab + slab_bytes;
  }
  void* p = c.next;
  c.next += block;
  return p;
}

void raw_free(void* p, std::size_t size) noexcept {
  if (size > largest_class) {
    platform::unmap_pages(p, mapped_bytes(size));
    return;
  }
  SizeClass& c = g_classes[class_of(size == 0 ? 1 : size)];
  SpinGuard guard(c.lock);
  auto* block = static_cast<FreeBlock*>(p);
  block->next = c.free;
  c.free = block;
}

void lock_all() noexcept {
  for (SizeClass& c : g_classes) {
    c.lock.lock();
  }
}
void unlock_all() noexcept {
  for (SizeClass& c : g_classes) {
    c.lock.unlock();
  }
}
void reset_all() noexcept {
  for (SizeClass& c : g_classes) {
    c.lock.reset_after_fork();
  }
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
    raw_free(p, size);
  }
}

std::uint64_t internal_bytes() noexcept {
  return g_bytes.load(std::memory_order_relaxed);
}
std::uint64_t internal_peak_bytes() noexcept {
  return g_peak.load(std::memory_order_relaxed);
}

void internal_alloc_before_fork() noexcept {
  lock_all();
}
void internal_alloc_after_fork_parent() noexcept {
  unlock_all();
}
void internal_alloc_after_fork_child() noexcept {
  reset_all();
}

}  // namespace measure::detail
