#include "hooks/originals.h"

#include <atomic>

#include "capture/runtime.h"
#include "platform/platform.h"

#include "support/log.h"

extern "C" void* measure_own_malloc(std::size_t) __attribute__((visibility("hidden")));  // hooks_c.cpp

namespace measure::hooks {

Originals g_originals = {};

namespace {
std::atomic<int> g_c_state{0};  // 0 unresolved, 1 resolving, 2 resolved
std::atomic<bool> g_cxx_resolved{false};
bool g_owned = true;
}  // namespace

bool originals_ready() noexcept {
  return g_c_state.load(std::memory_order_acquire) == 2;
}

bool hooks_owned() noexcept { return g_owned; }

void resolve_originals() noexcept {
  int expected = 0;
  if (!g_c_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
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
  g_owned = detail::platform::find_symbol("malloc", false) == reinterpret_cast<void*>(&measure_own_malloc);
  g_c_state.store(2, std::memory_order_release);
}

void resolve_cxx_originals() noexcept {
  if (g_cxx_resolved.load(std::memory_order_acquire)) {
    return;
  }
  // dlsym allocates when a symbol is missing (the error message): not the program's memory.
  detail::BusyScope busy;

#define MEASURE_RESOLVE_CXX(field, symbol, ret, params) \
  g_originals.field = reinterpret_cast<ret(*) params>(detail::platform::find_symbol(symbol, true));
  MEASURE_HOOKED_CXX_FUNCTIONS(MEASURE_RESOLVE_CXX)
#undef MEASURE_RESOLVE_CXX
  g_cxx_resolved.store(true, std::memory_order_release);
}

}  // namespace measure::hooks
