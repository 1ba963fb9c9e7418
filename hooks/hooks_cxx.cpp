// The replaceable global operator new/delete overloads. A throwing operator new makes a first
// attempt under BusyScope (the C++ runtime's own operator new is malloc in a new_handler
// loop, so when the originals are the runtime's, cxx_runtime_direct(), the attempt is the
// malloc itself; otherwise the program's nothrow original, whose malloc passes through),
// records on success, and only when that fails calls the throwing original unguarded, so
// new_handler loops and std::bad_alloc behave exactly as without the tool and no exception
// ever unwinds through a frame of ours that has cleanup to do. Deletes free directly in the
// same case. This file is compiled without exceptions; it needs nothing from the C++ runtime
// library.
#include "hooks/hooks.h"
#include "support/log.h"

namespace measure::hooks {
namespace {

constexpr std::nothrow_t nothrow_tag{};

inline void ensure_cxx() noexcept {
  if (__builtin_expect(!cxx_decided(), 0)) {
    resolve_cxx_originals();
  }
}

// Without the C++ runtime's own operator (a program that only links libc), fall back to
// what libstdc++ does itself.
void* try_allocate(std::size_t size, std::size_t alignment) noexcept {
  if (size == 0) {
    size = 1;
  }
  if (alignment <= 16) {
    return g_originals.malloc(size);
  }
  void* p = nullptr;
  return g_originals.posix_memalign != nullptr && g_originals.posix_memalign(&p, alignment, size) == 0 ? p : nullptr;
}

[[noreturn]] void out_of_memory() noexcept {
  detail::LogLine().text("operator new failed and the C++ runtime's own operator new is unavailable").emit();
  __builtin_trap();
}

template <class TryNew>
void* recorded_new(std::size_t size, AllocFamily family, TryNew try_new) noexcept {
  void* p = nullptr;
  {
    BusyScope busy;
    p = try_new();
    if (p != nullptr) {
      detail::record_allocation(p, size, family);
    }
  }
  return p;
}

template <class TryNew, class New>
void* throwing_new(std::size_t size, AllocFamily family, TryNew try_new, New original) {
  ensure_cxx();
  if (pass_through()) {
    return original();
  }
  void* p = recorded_new(size, family, try_new);
  // A direct first attempt was the malloc alone; the C++ runtime would now call the
  // new_handler and retry. That loop runs here, so that a block it frees memory for is
  // recorded as `new`; the handler runs unguarded (it may throw), and once there is none the
  // original throws bad_alloc.
  while (p == nullptr && cxx_runtime_direct()) {
    NewHandler handler = g_get_new_handler();
    if (handler == nullptr) {
      break;
    }
    handler();
    p = recorded_new(size, family, try_new);
  }
  return p != nullptr ? p : original();  // the original handles new_handler and bad_alloc
}

// `original` is the program's nothrow operator new; `try_new` the first attempt (the same,
// or the malloc itself when cxx_runtime_direct()). When a direct attempt fails, the original
// runs the new_handler loop, still under BusyScope as before.
template <class TryNew, class Original>
void* nothrow_new(std::size_t size, AllocFamily family, TryNew try_new, Original original) noexcept {
  ensure_cxx();
  if (pass_through()) {
    return original();
  }
  void* p = recorded_new(size, family, try_new);
  if (p == nullptr && cxx_runtime_direct()) {
    p = recorded_new(size, family, original);
  }
  return p;
}

template <class Delete>
void recorded_delete(void* p, AllocFamily family, Delete original) noexcept {
  ensure_cxx();
  if (p != nullptr && is_bootstrap_block(p)) {
    return;  // as free() does: the bootstrap arena is never reused
  }
  if (p == nullptr || pass_through()) {
    original();
    return;
  }
  BusyScope busy;
  detail::record_free(p, family);
  original();  // its free() passes through
}

}  // namespace
}  // namespace measure::hooks

using namespace measure::hooks;
using std::align_val_t;
using std::size_t;

// The original's pointer is read when the call happens (it may be resolved lazily).
#define MEASURE_ORIGINAL(field, ...) \
  (g_originals.field != nullptr ? g_originals.field(__VA_ARGS__) : (out_of_memory(), nullptr))
#define MEASURE_NOTHROW(field, alignment, ...) \
  (g_originals.field != nullptr ? g_originals.field(__VA_ARGS__) : try_allocate(size, alignment))
#define MEASURE_TRY(field, alignment, ...)                                                \
  (g_originals.field != nullptr && !cxx_runtime_direct() ? g_originals.field(__VA_ARGS__) \
                                                         : try_allocate(size, alignment))
#define MEASURE_RELEASE(field, ...)                            \
  if (g_originals.field != nullptr && !cxx_runtime_direct()) { \
    g_originals.field(__VA_ARGS__);                            \
  } else {                                                     \
    g_originals.free(p);                                       \
  }

MEASURE_EXPORT void* operator new(size_t size) {
  return throwing_new(
      size, AllocFamily::new_scalar, [=] { return MEASURE_TRY(new_scalar_nothrow, 16, size, nothrow_tag); },
      [=] { return MEASURE_ORIGINAL(new_scalar, size); });
}

MEASURE_EXPORT void* operator new[](size_t size) {
  return throwing_new(
      size, AllocFamily::new_array, [=] { return MEASURE_TRY(new_array_nothrow, 16, size, nothrow_tag); },
      [=] { return MEASURE_ORIGINAL(new_array, size); });
}

MEASURE_EXPORT void* operator new(size_t size, const std::nothrow_t&) noexcept {
  return nothrow_new(
      size, AllocFamily::new_scalar, [=] { return MEASURE_TRY(new_scalar_nothrow, 16, size, nothrow_tag); },
      [=] { return MEASURE_NOTHROW(new_scalar_nothrow, 16, size, nothrow_tag); });
}

MEASURE_EXPORT void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  return nothrow_new(
      size, AllocFamily::new_array, [=] { return MEASURE_TRY(new_array_nothrow, 16, size, nothrow_tag); },
      [=] { return MEASURE_NOTHROW(new_array_nothrow, 16, size, nothrow_tag); });
}

MEASURE_EXPORT void* operator new(size_t size, align_val_t al) {
  auto a = static_cast<size_t>(al);
  return throwing_new(
      size, AllocFamily::new_scalar, [=] { return MEASURE_TRY(new_scalar_aligned_nothrow, a, size, al, nothrow_tag); },
      [=] { return MEASURE_ORIGINAL(new_scalar_aligned, size, al); });
}

MEASURE_EXPORT void* operator new[](size_t size, align_val_t al) {
  auto a = static_cast<size_t>(al);
  return throwing_new(
      size, AllocFamily::new_array, [=] { return MEASURE_TRY(new_array_aligned_nothrow, a, size, al, nothrow_tag); },
      [=] { return MEASURE_ORIGINAL(new_array_aligned, size, al); });
}

MEASURE_EXPORT void* operator new(size_t size, align_val_t al, const std::nothrow_t&) noexcept {
  auto a = static_cast<size_t>(al);
  return nothrow_new(
      size, AllocFamily::new_scalar, [=] { return MEASURE_TRY(new_scalar_aligned_nothrow, a, size, al, nothrow_tag); },
      [=] { return MEASURE_NOTHROW(new_scalar_aligned_nothrow, a, size, al, nothrow_tag); });
}

MEASURE_EXPORT void* operator new[](size_t size, align_val_t al, const std::nothrow_t&) noexcept {
  auto a = static_cast<size_t>(al);
  return nothrow_new(
      size, AllocFamily::new_array, [=] { return MEASURE_TRY(new_array_aligned_nothrow, a, size, al, nothrow_tag); },
      [=] { return MEASURE_NOTHROW(new_array_aligned_nothrow, a, size, al, nothrow_tag); });
}

MEASURE_EXPORT void operator delete(void* p) noexcept {
  recorded_delete(p, AllocFamily::new_scalar, [=] { MEASURE_RELEASE(delete_scalar, p); });
}

MEASURE_EXPORT void operator delete[](void* p) noexcept {
  recorded_delete(p, AllocFamily::new_array, [=] { MEASURE_RELEASE(delete_array, p); });
}

MEASURE_EXPORT void operator delete(void* p, size_t size) noexcept {
  recorded_delete(p, AllocFamily::new_scalar, [=] { MEASURE_RELEASE(delete_scalar_sized, p, size); });
}

MEASURE_EXPORT void operator delete[](void* p, size_t size) noexcept {
  recorded_delete(p, AllocFamily::new_array, [=] { MEASURE_RELEASE(delete_array_sized, p, size); });
}

MEASURE_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept {
  recorded_delete(p, AllocFamily::new_scalar, [=] { MEASURE_RELEASE(delete_scalar_nothrow, p, nothrow_tag); });
}

MEASURE_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept {
  recorded_delete(p, AllocFamily::new_array, [=] { MEASURE_RELEASE(delete_array_nothrow, p, nothrow_tag); });
}

MEASURE_EXPORT void operator delete(void* p, align_val_t al) noexcept {
  recorded_delete(p, AllocFamily::new_scalar, [=] { MEASURE_RELEASE(delete_scalar_aligned, p, al); });
}

MEASURE_EXPORT void operator delete[](void* p, align_val_t al) noexcept {
  recorded_delete(p, AllocFamily::new_array, [=] { MEASURE_RELEASE(delete_array_aligned, p, al); });
}

MEASURE_EXPORT void operator delete(void* p, size_t size, align_val_t al) noexcept {
  recorded_delete(p, AllocFamily::new_scalar, [=] { MEASURE_RELEASE(delete_scalar_sized_aligned, p, size, al); });
}

MEASURE_EXPORT void operator delete[](void* p, size_t size, align_val_t al) noexcept {
  recorded_delete(p, AllocFamily::new_array, [=] { MEASURE_RELEASE(delete_array_sized_aligned, p, size, al); });
}

MEASURE_EXPORT void operator delete(void* p, align_val_t al, const std::nothrow_t&) noexcept {
  recorded_delete(p, AllocFamily::new_scalar,
                  [=] { MEASURE_RELEASE(delete_scalar_aligned_nothrow, p, al, nothrow_tag); });
}

MEASURE_EXPORT void operator delete[](void* p, align_val_t al, const std::nothrow_t&) noexcept {
  recorded_delete(p, AllocFamily::new_array,
                  [=] { MEASURE_RELEASE(delete_array_aligned_nothrow, p, al, nothrow_tag); });
}
