// The hot path's entry points: what the hooks call on every allocation and free while
// recording (with BusyScope held and ensure_started_and_recording() true). recorder.cpp implements them, top to
// bottom in the order one event takes (docs/architecture.md, "One malloc, step by step").
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/runtime.h"

namespace measure::detail {

// Each kind of mode has its own entry points (exact; sampled and counters), so that the
// light modes' path holds none of exact mode's code and keeps its values in registers. The
// hooks call the inline dispatchers; a stack walk starts at the entry point's frame, which
// the hook called directly.
void record_exact_allocation(void* address, std::size_t size, AllocFamily family) noexcept;
void record_light_allocation(void* address, std::size_t size, AllocFamily family) noexcept;
bool record_exact_free(void* address, AllocFamily family) noexcept;
bool record_light_free(void* address, AllocFamily family) noexcept;

inline void record_allocation(void* address, std::size_t size, AllocFamily family) noexcept {
  if (g_runtime.options.mode == Mode::exact) {
    record_exact_allocation(address, size, family);
  } else {
    record_light_allocation(address, size, family);
  }
}
/// Call before the real free: once freed, the address may be handed to another thread.
/// Returns false when the block was unknown (counted as an unmatched free).
inline bool record_free(void* address, AllocFamily family) noexcept {
  return g_runtime.options.mode == Mode::exact ? record_exact_free(address, family)
                                               : record_light_free(address, family);
}
/// realloc support: removes the old block's entry so its address can be reused safely.
bool take_block(void* address, BlockInfo* info) noexcept;
/// Finds a live block, and forgets it when `forget`: in the block shadow (its palette index
/// turned into its stack) or in the live-block table. False if neither knows it. Always
/// inlined, so that `forget` folds away: every free calls it.
__attribute__((always_inline)) inline bool find_live_block(Runtime& rt, std::uintptr_t key, BlockInfo* info,
                                                           bool forget) noexcept {
  if (forget ? rt.shadow.take(key, info) : rt.shadow.find(key, info)) {
    info->stack = rt.palette.stack(info->stack);
    return true;
  }
  return forget ? rt.pointers.remove(key, info) : rt.pointers.find(key, info);
}
__attribute__((always_inline)) inline bool take_live_block(Runtime& rt, std::uintptr_t key, BlockInfo* info) noexcept {
  return find_live_block(rt, key, info, true);
}
/// realloc failed: the old block is still live.
void restore_block(void* address, const BlockInfo& info) noexcept;
/// realloc succeeded (or freed with size 0): `old` is the old block's entry (nullptr if it
/// was unknown), `fresh` the new block or nullptr.
void record_reallocation(void* old_address, const BlockInfo* old, void* fresh, std::size_t size) noexcept;

}  // namespace measure::detail
