#include "hooks/originals.h"

#include <atomic>

#include "platform/platform.h"
#include "runtime/runtime.h"
#include "support/log.h"

extern "C" void* measure_own_malloc(std::size_t) __attribute__((visibility("hidden")));  // hooks_c.cpp

namespace measure::hooks {

Originals g_originals = {};
std::atomic<int> g_originals_state{0};
std::atomic<bool> g_cxx_runtime_direct{false};
std::atomic<bool> g_cxx_decided{false};
NewHandler (*g_get_new_handler)() = nullptr;
MallocOwner g_malloc_owner = MallocOwner::self;

namespace {
std::atomic<bool> g_cxx_resolved{false};

MallocOwner find_owner() noexcept {
  void* winner = detail::platform::find_symbol("malloc", false);
  if (winner == reinterpret_cast<void*>(&measure_own_malloc)) {
    return MallocOwner::self;
  }
  // The copy of measure that answers measure_rt_get is the one first in the scope.
  void* runtime = detail::platform::find_symbol("measure_rt_get", false);
  return runtime != nullptr && detail::platform::same_module(winner, runtime) ? MallocOwner::other_measure
                                                                              : MallocOwner::foreign;
}
}  // namespace

void resolve_originals() noexcept {
  int expected = 0;
  if (!g_originals_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    // Resolving already (this thread, re-entered from dlsym, or another thread): callers
    // use the bootstrap arena meanwhile.
    return;
  }
#define MEASURE_RESOLVE_C(name, ret, params, required)                                            \
  g_originals.name = reinterpret_cast<ret(*) params>(detail::platform::find_symbol(#name, true)); \
  if ((required) && g_originals.name == nullptr) {                                                \
    detail::LogLine().text("cannot find the program's " #name "(); stopping").emit();             \
    __builtin_trap();                                                                             \
  }
  MEASURE_HOOKED_C_FUNCTIONS(MEASURE_RESOLVE_C)
#undef MEASURE_RESOLVE_C
#define MEASURE_RESOLVE_PROCESS(name, ret, params) \
  g_originals.name = reinterpret_cast<ret(*) params>(detail::platform::find_symbol(#name, true));
  MEASURE_HOOKED_PROCESS_FUNCTIONS(MEASURE_RESOLVE_PROCESS)
#undef MEASURE_RESOLVE_PROCESS
  g_malloc_owner = find_owner();
  // The block shadow may ask block sizes only of the allocator that made the blocks: the one
  // our malloc forwards to, when it also defines the malloc_usable_size found next (not, say,
  // the executable's own malloc with glibc's malloc_usable_size behind it).
  if (g_malloc_owner == MallocOwner::self && g_originals.malloc_usable_size != nullptr &&
      detail::platform::same_module(reinterpret_cast<const void*>(g_originals.malloc),
                                    reinterpret_cast<const void*>(g_originals.malloc_usable_size))) {
    detail::runtime().usable_size = g_originals.malloc_usable_size;
  }

  g_originals_state.store(2, std::memory_order_release);
}

void resolve_cxx_originals() noexcept {
  if (!originals_ready()) {
    resolve_originals();  // whose malloc it is decides cxx_runtime_direct
  }
  // dlsym allocates when a symbol is missing (the error message): not the program's memory.
  detail::BusyScope busy;
  if (!g_cxx_resolved.load(std::memory_order_acquire)) {
#define MEASURE_RESOLVE_CXX(field, symbol, ret, params) \
  g_originals.field = reinterpret_cast<ret(*) params>(detail::platform::find_symbol(symbol, true));
    MEASURE_HOOKED_CXX_FUNCTIONS(MEASURE_RESOLVE_CXX)
#undef MEASURE_RESOLVE_CXX
    g_cxx_resolved.store(true, std::memory_order_release);
  }
  if (g_cxx_decided.load(std::memory_order_acquire) || !originals_ready()) {
    return;  // decided, or the C originals are still being resolved: direct stays off meanwhile
  }
  void* runtime = detail::platform::find_symbol("_ZSt15get_new_handlerv", false);
  bool direct = runtime != nullptr && malloc_owner() == MallocOwner::self;
#define MEASURE_IN_RUNTIME(field, symbol, ret, params) \
  direct = direct && g_originals.field != nullptr &&   \
           detail::platform::same_module(reinterpret_cast<const void*>(g_originals.field), runtime);
  MEASURE_HOOKED_CXX_FUNCTIONS(MEASURE_IN_RUNTIME)
#undef MEASURE_IN_RUNTIME
  g_get_new_handler = reinterpret_cast<NewHandler (*)()>(runtime);
  g_cxx_runtime_direct.store(direct, std::memory_order_relaxed);
  g_cxx_decided.store(true, std::memory_order_release);
}

}  // namespace measure::hooks
