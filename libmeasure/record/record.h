// The hot path's entry points: what the hooks call on every allocation and free while
// recording (with BusyScope held and ensure_started_and_recording() true). recorder.cpp implements them, top to
// bottom in the order one event takes (docs/architecture.md, "One malloc, step by step").
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/runtime.h"
#include "threads/threads.h"

namespace measure::detail {

// Each kind of mode has its own entry points (exact; sampled and counters), so that the
// light modes' path holds none of exact mode's code and keeps its values in registers. The
// hooks call the inline dispatchers; a stack walk starts at the entry point's frame, which
// the hook called directly.
void record_exact_allocation(void* address, std::size_t size, AllocFamily family) noexcept;
bool record_exact_free(void* address, AllocFamily family) noexcept;

/// Whether a light-mode allocation's sampling was decided before its entry point: by the
/// inline fast path below, which draws once per allocation.
enum class Sampling : std::uint8_t { undecided, taken, not_taken };
void record_light_allocation(void* address, std::size_t size, AllocFamily family, Sampling sampling) noexcept;
bool record_light_free(void* address, AllocFamily family) noexcept;

/// A free of a block allocated as `allocated` by a function of `freed`'s family is a match
/// (a block the program reported itself may be freed by any).
inline bool same_family(AllocFamily allocated, AllocFamily freed) noexcept {
  return allocated == freed || allocated == AllocFamily::reported || freed == AllocFamily::reported;
}

// Always inlined into the hooks: the fast path then needs no call and no saved registers.
__attribute__((always_inline)) inline void record_allocation(void* address, std::size_t size,
                                                             AllocFamily family) noexcept {
  Runtime& rt = g_runtime;
  if (rt.options.mode == Mode::exact) {
    record_exact_allocation(address, size, family);
    return;
  }
  // The light modes' common case, inline in the hook: a thread with a state, a block not
  // sampled, and a cell for it in the shadow (BlockShadow::enter_light). What it writes is
  // what the full path writes for such a block; everything else takes the full path.
  Sampling sampling = Sampling::undecided;
  if (ThreadState* thread = t_state; __builtin_expect(thread != nullptr, 1)) {
    sampling = rt.options.mode == Mode::sampled && thread->sampler.take(size) ? Sampling::taken : Sampling::not_taken;
    if (sampling == Sampling::not_taken &&
        __builtin_expect(rt.shadow.enter_light(reinterpret_cast<std::uintptr_t>(address), size, family), 1)) {
      thread->on_own_event(StackTable::unknown_id, true, size);
      return;
    }
  }
  record_light_allocation(address, size, family, sampling);
}
/// Call before the real free: once freed, the address may be handed to another thread.
/// Returns false when the block was unknown (counted as an unmatched free).
__attribute__((always_inline)) inline bool record_free(void* address, AllocFamily family) noexcept {
  Runtime& rt = g_runtime;
  if (rt.options.mode == Mode::exact) {
    return record_exact_free(address, family);
  }
  // The mirror of record_allocation's fast path: a block held in the shadow (never a sampled
  // one, which has a stack and lives in the table), freed by a thread with a state.
  BlockInfo info;
  ThreadState* thread = t_state;
  if (__builtin_expect(thread != nullptr, 1) && family != AllocFamily::reported &&
      __builtin_expect(rt.shadow.take_light(reinterpret_cast<std::uintptr_t>(address), &info), 1)) {
    if (__builtin_expect(!same_family(info.family, family), 0)) {
      rt.diagnostics.mismatched_frees.fetch_add(1, std::memory_order_relaxed);
    }
    thread->on_own_event(StackTable::unknown_id, false, info.size);
    return true;
  }
  return record_light_free(address, family);
}
/// The key of a block in the live-block tables. Blocks reported by custom pools live in
/// their own key space: a pool's first block often shares its address with the malloc'ed
/// chunk it was carved from.
inline std::uintptr_t block_key(const void* address, AllocFamily family) noexcept {
  auto key = reinterpret_cast<std::uintptr_t>(address);
  return family == AllocFamily::reported ? key | (std::uintptr_t{1} << 63) : key;
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
