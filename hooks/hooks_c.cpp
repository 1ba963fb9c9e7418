// The interposed C allocation functions. Every one has the same shape: bootstrap path while
// the originals are unknown, pass-through when inside the runtime or not recording, else
// call the original under BusyScope and record on success. Frees record before the real
// call, because a freed address can be handed out again by another thread at once.
#include <cerrno>
#include <cstring>

#include "hooks/hooks.h"
#include "platform/platform.h"

namespace measure::hooks {

void* bootstrap(std::size_t size, std::size_t alignment) noexcept {
  detail::runtime().diagnostics.bootstrap_allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = bootstrap_allocate(size, alignment);
  if (p == nullptr) {
    errno = ENOMEM;
  }
  return p;
}

namespace {

template <class Allocate>
void* allocation_hook(std::size_t size, std::size_t alignment, Allocate allocate) noexcept {
  if (!resolve_originals_once()) {
    return bootstrap(size, alignment);
  }
  if (pass_through()) {
    return allocate();
  }
  BusyScope busy;
  void* p = allocate();
  if (p != nullptr) {
    detail::record_allocation(p, size, AllocFamily::malloc);
  }
  return p;
}

// realloc and reallocarray: the old entry leaves the shadow or the table before the real call (its address
// may be reused as soon as the allocator frees it) and returns if the call fails.
template <class Reallocate>
void* realloc_hook(void* p, std::size_t size, Reallocate reallocate) noexcept {
  if (!resolve_originals_once() || (p != nullptr && is_bootstrap_block(p))) {
    void* fresh = resolve_originals_once() ? ::malloc(size) : bootstrap(size, 16);
    if (fresh != nullptr && p != nullptr) {
      std::size_t old = bootstrap_block_size(p);
      std::memcpy(fresh, p, old < size ? old : size);
    }
    return fresh;
  }
  if (pass_through()) {
    return reallocate();
  }
  BusyScope busy;
  detail::BlockInfo old;
  bool known = p != nullptr && detail::take_block(p, &old);
  void* fresh = reallocate();
  if (fresh == nullptr && size != 0) {
    if (known) {
      detail::restore_block(p, old);
    }
    return nullptr;
  }
  if (p == nullptr) {
    if (fresh != nullptr) {
      detail::record_allocation(fresh, size, AllocFamily::malloc);
    }
    return fresh;
  }
  detail::record_reallocation(p, known ? &old : nullptr, fresh, size);
  return fresh;
}

}  // namespace
}  // namespace measure::hooks

using namespace measure::hooks;

extern "C" {

MEASURE_EXPORT void* malloc(std::size_t size) {
  return allocation_hook(size, 16, [=] { return g_originals.malloc(size); });
}

// Our own malloc, bound inside this library (`&malloc` would give the program's winner);
// the constructor compares the two to learn whether this copy's hooks are live.
// GCC copies malloc's attributes onto the alias (it warns otherwise); Clang has no `copy`.
#if __has_attribute(copy)
void* measure_own_malloc(std::size_t) __attribute__((alias("malloc"), visibility("hidden"), copy(malloc)));
#else
void* measure_own_malloc(std::size_t) __attribute__((alias("malloc"), visibility("hidden")));
#endif

MEASURE_EXPORT void free(void* p) {
  if (p == nullptr || is_bootstrap_block(p) || !resolve_originals_once()) {
    return;
  }
  if (pass_through()) {
    if (__builtin_expect(measure::detail::t_keep_freed_memory, 0)) {
      measure::detail::record_free(p, AllocFamily::malloc);  // libstdc++'s cleanup at exit
      return;
    }
    g_originals.free(p);
    return;
  }
  BusyScope busy;
  measure::detail::record_free(p, AllocFamily::malloc);
  g_originals.free(p);
}

MEASURE_EXPORT void* calloc(std::size_t count, std::size_t size) {
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    bytes = 0;  // the original fails with ENOMEM; nothing is recorded
  }
  return allocation_hook(bytes, 16, [=] { return g_originals.calloc(count, size); });
}

MEASURE_EXPORT void* realloc(void* p, std::size_t size) {
  return realloc_hook(p, size, [=] { return g_originals.realloc(p, size); });
}

MEASURE_EXPORT void* reallocarray(void* p, std::size_t count, std::size_t size) {
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc_hook(p, bytes, [=] {
    return g_originals.reallocarray != nullptr ? g_originals.reallocarray(p, count, size)
                                               : g_originals.realloc(p, bytes);
  });
}

MEASURE_EXPORT int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  int rc = 0;
  void* p = allocation_hook(size, alignment, [&]() -> void* {
    void* block = nullptr;
    rc = g_originals.posix_memalign != nullptr ? g_originals.posix_memalign(&block, alignment, size) : ENOMEM;
    return rc == 0 ? block : nullptr;
  });
  if (p == nullptr && rc == 0) {
    rc = ENOMEM;  // the bootstrap arena was exhausted
  }
  if (rc == 0) {
    *out = p;
  }
  return rc;
}

MEASURE_EXPORT void* aligned_alloc(std::size_t alignment, std::size_t size) {
  return allocation_hook(size, alignment, [=] {
    return g_originals.aligned_alloc != nullptr ? g_originals.aligned_alloc(alignment, size) : nullptr;
  });
}

MEASURE_EXPORT void* memalign(std::size_t alignment, std::size_t size) {
  return allocation_hook(size, alignment, [=] {
    return g_originals.memalign != nullptr ? g_originals.memalign(alignment, size) : nullptr;
  });
}

MEASURE_EXPORT void* valloc(std::size_t size) {
  return allocation_hook(size, 4096,
                         [=] { return g_originals.valloc != nullptr ? g_originals.valloc(size) : nullptr; });
}

MEASURE_EXPORT void* pvalloc(std::size_t size) {
  return allocation_hook(size, 4096,
                         [=] { return g_originals.pvalloc != nullptr ? g_originals.pvalloc(size) : nullptr; });
}

MEASURE_EXPORT std::size_t malloc_usable_size(void* p) {
  if (p != nullptr && is_bootstrap_block(p)) {
    return bootstrap_block_size(p);
  }
  if (!resolve_originals_once() || g_originals.malloc_usable_size == nullptr) {
    return 0;
  }
  return g_originals.malloc_usable_size(p);
}

}  // extern "C"

// _exit and _Exit skip the exit handlers, so the capture is completed here (quick_exit runs
// the runtime's at_quick_exit handler instead). A vfork child calling _exit is ignored: it
// shares its parent's memory and its parent's capture is still being recorded.
extern "C" {

[[noreturn]] static void exit_now(void (*original)(int), int status) {
  // A busy thread calling _exit is a signal handler (async-signal-safe _exit is what handlers
  // call) that interrupted an allocation or the runtime on this thread, which may hold the
  // allocator's or the loader's locks: finishing the capture here could deadlock, so the
  // process ends as it would natively and the last checkpoint stays its capture.
  if (!measure::detail::thread_busy()) {
    measure::detail::finish_capture();
  }
  if (original != nullptr) {
    original(status);
  }
  measure::detail::platform::exit_process(status);
}

MEASURE_EXPORT void _exit(int status) {
  exit_now(resolve_originals_once() ? g_originals._exit : nullptr, status);
}

MEASURE_EXPORT void _Exit(int status) {
  exit_now(resolve_originals_once() ? g_originals._Exit : nullptr, status);
}

}  // extern "C"

// dlclose: the module map is read before the library can go and again after, so stacks taken
// while it was loaded resolve against it, not against whatever is mapped there later. dlopen
// is not wrapped: the loader searches the caller's RUNPATH, and the caller would become us.
extern "C" MEASURE_EXPORT int dlclose(void* handle) {
  if (!resolve_originals_once() || g_originals.dlclose == nullptr) {
    return -1;
  }
  if (pass_through()) {
    return g_originals.dlclose(handle);
  }
  {
    BusyScope busy;
    measure::detail::runtime().modules.scan();
  }
  int rc = g_originals.dlclose(handle);
  BusyScope busy;
  measure::detail::runtime().modules.scan();
  return rc;
}
