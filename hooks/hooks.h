// Shared pieces of the interposed functions: readiness, the bootstrap path, and export.
#pragma once

#include <cstddef>

#include "hooks/bootstrap_arena.h"
#include "hooks/originals.h"
#include "record/record.h"

#define MEASURE_EXPORT __attribute__((visibility("default")))

namespace measure::hooks {

using detail::AllocFamily;
using detail::BusyScope;

/// Resolves the original allocation functions on the first call; then true when they are
/// known. While they are being resolved (re-entry from the loader) it returns false and
/// callers use the bootstrap arena.
inline bool resolve_originals_once() noexcept {
  if (__builtin_expect(originals_ready(), 1)) {
    return true;
  }
  resolve_originals();
  return originals_ready();
}

/// True when this copy of the library was loaded by `measure attach` (hooks/attach.cpp): its
/// file is the copy the tool made under that name.
bool loaded_for_attach() noexcept;

/// Allocation from the bootstrap arena, counted in the capture's diagnostics.
void* bootstrap(std::size_t size, std::size_t alignment) noexcept;

/// True when an event should pass straight to the original (another copy owns the hooks,
/// inside the runtime, or not recording). Starts the runtime on the first event.
inline bool pass_through() noexcept {
  return malloc_owner() == MallocOwner::other_measure || detail::thread_busy() ||
         !detail::ensure_started_and_recording();
}

}  // namespace measure::hooks
