#include "stacks/unwind.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "platform/platform.h"
#include "stacks/stack_table.h"

namespace measure::detail {
namespace {
// Room for the toolkit's own frames on top of the requested depth.
constexpr std::uint32_t own_frame_margin = 24;
constexpr std::uint32_t buffer_capacity = 256 + own_frame_margin + 1;
}  // namespace

bool Unwinder::load_tables() noexcept {
  void* lib = platform::open_library_private("libunwind.so.8");
  if (lib == nullptr) {
    return false;
  }
  auto backtrace = reinterpret_cast<int (*)(void**, int)>(platform::library_symbol(lib, "unw_backtrace"));
  auto set_policy = reinterpret_cast<int (*)(unw_addr_space_t, unw_caching_policy_t)>(
      platform::library_symbol(lib, "_ULx86_64_set_caching_policy"));
  auto* space = static_cast<unw_addr_space_t*>(platform::library_symbol(lib, "_ULx86_64_local_addr_space"));
  if (backtrace == nullptr) {
    return false;
  }
  if (set_policy != nullptr && space != nullptr) {
    set_policy(*space, UNW_CACHE_PER_THREAD);
  }
  // Warm up: the first walk fills libunwind's caches for the modules loaded so far.
  void* warm[8];
  backtrace(warm, 8);
  m_backtrace = backtrace;
  return true;
}

std::uint32_t Unwinder::walk_frame_pointers(std::uintptr_t* out, std::uint32_t capacity, std::uintptr_t stack_low,
                                            std::uintptr_t stack_high) const noexcept {
  auto fp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  if (stack_high == 0) {
    // Unknown bounds: accept the next 1 MiB above our own frame only.
    stack_low = fp;
    stack_high = fp + (1U << 20);
  }
  std::uint32_t n = 0;
  while (n < capacity) {
    if (fp < stack_low || fp + 2 * sizeof(std::uintptr_t) > stack_high || (fp & (sizeof(std::uintptr_t) - 1)) != 0) {
      break;
    }
    auto* frame = reinterpret_cast<const std::uintptr_t*>(fp);
    std::uintptr_t next = frame[0];
    std::uintptr_t ret = frame[1];
    if (ret < 4096) {
      break;
    }
    out[n++] = ret;
    if (next <= fp) {
      break;
    }
    fp = next;
  }
  return n;
}

std::uint32_t Unwinder::capture(std::uintptr_t* out, std::uint32_t max, std::uint32_t* flags, std::uintptr_t stack_low,
                                std::uintptr_t stack_high) const noexcept {
  std::uintptr_t raw[buffer_capacity];
  std::uint32_t capacity = max + own_frame_margin + 1;
  if (capacity > buffer_capacity) {
    capacity = buffer_capacity;
  }
  std::uint32_t n = 0;
  if (m_backtrace != nullptr) {
    int got = m_backtrace(reinterpret_cast<void**>(raw), static_cast<int>(capacity));
    n = got > 0 ? static_cast<std::uint32_t>(got) : 0;
  } else {
    n = walk_frame_pointers(raw, capacity, stack_low, stack_high);
    *flags |= stack_partial;
  }
  std::uint32_t first = 0;
  while (first < n && is_own(raw[first])) {
    ++first;
  }
  std::uint32_t count = n - first;
  if (count > max) {
    count = max;
    *flags |= stack_truncated;
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    out[i] = raw[first + i];
  }
  return count;
}

}  // namespace measure::detail
