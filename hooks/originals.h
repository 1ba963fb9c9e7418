// The program's own allocation functions (what our hooks forward to), found with
// dlsym(RTLD_NEXT) from this library's position in the symbol scope, so the program keeps
// whichever allocator it had: glibc's, or one preloaded after us.
#pragma once

#include "hooks/hooked_functions.h"

namespace measure::hooks {

struct Originals {
#define MEASURE_C_FIELD(name, ret, params, required) ret(*name) params;
  MEASURE_HOOKED_C_FUNCTIONS(MEASURE_C_FIELD)
#undef MEASURE_C_FIELD
#define MEASURE_CXX_FIELD(field, symbol, ret, params) ret(*field) params;
  MEASURE_HOOKED_CXX_FUNCTIONS(MEASURE_CXX_FIELD)
#undef MEASURE_CXX_FIELD
};

extern Originals g_originals;

/// True once every C original is known. Until then allocations come from the bootstrap arena.
bool originals_ready() noexcept;
/// Resolves the originals (idempotent, thread-safe). Allocations made by the loader while it
/// runs are served from the bootstrap arena. Stops the program, naming the symbol, when a
/// required function is missing.
void resolve_originals() noexcept;
/// The C++ originals are looked up on first use (the C++ runtime may load later).
void resolve_cxx_originals() noexcept;

/// True when this copy's malloc is the one the program calls. When the library is both
/// preloaded and linked, the other copy's originals resolve to this copy's hooks (the next
/// definition in the symbol scope): a copy that does not own the hooks only forwards, and
/// its runtime never starts. Valid once originals_ready().
bool hooks_owned() noexcept;

}  // namespace measure::hooks
