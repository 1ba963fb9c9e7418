// The program's own allocation functions (what our hooks forward to), found with
// dlsym(RTLD_NEXT) from this library's position in the symbol scope, so the program keeps
// whichever allocator it had: glibc's, or one preloaded after us.
#pragma once

#include <atomic>

#include "hooks/hooked_functions.h"

namespace measure::hooks {

struct Originals {
#define MEASURE_C_FIELD(name, ret, params, required) ret(*name) params;
  MEASURE_HOOKED_C_FUNCTIONS(MEASURE_C_FIELD)
#undef MEASURE_C_FIELD
#define MEASURE_CXX_FIELD(field, symbol, ret, params) ret(*field) params;
  MEASURE_HOOKED_CXX_FUNCTIONS(MEASURE_CXX_FIELD)
#undef MEASURE_CXX_FIELD
#define MEASURE_PROCESS_FIELD(name, ret, params) ret(*name) params;
  MEASURE_HOOKED_PROCESS_FUNCTIONS(MEASURE_PROCESS_FIELD)
#undef MEASURE_PROCESS_FIELD
};

extern Originals g_originals;

/// Resolution state of the C originals: 0 unresolved, 1 resolving, 2 resolved.
extern std::atomic<int> g_originals_state;

/// True once every C original is known. Until then allocations come from the bootstrap arena.
/// Inline: every intercepted call asks.
inline bool originals_ready() noexcept {
  return g_originals_state.load(std::memory_order_acquire) == 2;
}
/// Resolves the originals (idempotent, thread-safe). Allocations made by the loader while it
/// runs are served from the bootstrap arena. Stops the program, naming the symbol, when a
/// required function is missing.
void resolve_originals() noexcept;
/// The C++ originals are looked up on first use (the C++ runtime may load later), after the
/// C originals (a C++ hook can be the first hooked call, from a library's constructor).
/// Idempotent; decides cxx_runtime_direct() once the C originals are known.
void resolve_cxx_originals() noexcept;
/// True once resolve_cxx_originals has found the C++ originals and decided
/// cxx_runtime_direct(). Inline: every C++ hook asks.
extern std::atomic<bool> g_cxx_decided;
inline bool cxx_decided() noexcept {
  return g_cxx_decided.load(std::memory_order_acquire);
}

using NewHandler = void (*)();
/// std::get_new_handler of the C++ runtime; set whenever cxx_runtime_direct() is true.
extern NewHandler (*g_get_new_handler)();

/// True when every C++ original is the C++ runtime's own (they lie in the module that defines
/// std::get_new_handler: libstdc++ or libc++), whose operator new is malloc (posix_memalign
/// when aligned) retried through the new_handler, and whose operator delete is free. The hooks
/// then make the first attempt themselves and free directly, instead of calling the original
/// and, inside it, our own malloc or free hook again. Set by resolve_cxx_originals.
extern std::atomic<bool> g_cxx_runtime_direct;
inline bool cxx_runtime_direct() noexcept {
  return g_cxx_runtime_direct.load(std::memory_order_relaxed);
}

/// Whose malloc the program calls. Valid once originals_ready().
enum class MallocOwner {
  self,           // ours: the normal case
  other_measure,  // the library is both preloaded and linked and the other copy owns it; the
                  // other copy's originals resolve to our hooks (the next definition in the
                  // scope), so this copy only forwards and its runtime never starts
  foreign,        // the program's own allocator (malloc defined in the executable): what still
                  // reaches us (operator new/delete) is recorded, and the capture says it is
                  // incomplete
};
extern MallocOwner g_malloc_owner;
inline MallocOwner malloc_owner() noexcept {
  return g_malloc_owner;
}

}  // namespace measure::hooks
