// The hot path: what happens on every intercepted allocation and free while recording.
// Order matters throughout: allocations record after the real call succeeded, frees before
// the real call (once freed, the address may be reused by another thread at once).
#include <cerrno>

#include "platform/platform.h"
#include "record/record.h"
#include "runtime/process_memory.h"
#include "support/hash.h"
#include "threads/threads.h"

namespace measure::detail {
static_assert(max_depth <= StackTable::max_frames, "the stack table takes every stack a walk returns");
namespace {

// The slow side of capture_stack: walk the stack, intern it, and remember the walk when its
// reads could all be listed (so the next call from the same frame can skip it). `start`:
// the program's frame, or nullptr on a stack caller() cannot follow, where the walk starts at
// `from` (see Unwinder::caller).
std::uint32_t walk_and_intern_here(Runtime& rt, ThreadState& thread, const CallerFrame* start, std::uintptr_t from,
                                   std::uint32_t generation) noexcept {
  WalkBuffers buffers = thread.walk_buffers();
  rt.unwinder.rules().track_generation(generation);
  buffers.rules->track_generation(generation);
  WalkResult walk = start != nullptr ? rt.unwinder.walk(*start, rt.options.depth, buffers)
                                     : rt.unwinder.walk_foreign(from, rt.options.depth, buffers);
  std::uint64_t hash = hash_frames(buffers.frames, walk.depth, generation);
  std::uint32_t id = rt.stacks.intern(buffers.frames, walk.depth, generation, walk.flags, hash);
  if (id == StackTable::unknown_id) {
    rt.diagnostics.unknown_stacks.fetch_add(1, std::memory_order_relaxed);
    return id;
  }
  if (start != nullptr && walk.cacheable) {
    thread.stacks.remember(*start, walk.start_fp_used, generation, id, buffers.checks, walk.check_count);
  }
  return id;
}

// Out of line, where there is room (ThreadState::run_with_room): a walk reads the unwind
// tables with kilobytes of state, and interning may allocate.
__attribute__((noinline)) std::uint32_t walk_and_intern(Runtime& rt, ThreadState& thread, const CallerFrame* start,
                                                        std::uintptr_t from, std::uint32_t generation) noexcept {
  std::uint32_t id = StackTable::unknown_id;
  auto walk = [&] { id = walk_and_intern_here(rt, thread, start, from, generation); };
  thread.run_with_room(walk);
  return id;
}

// `from`: the frame address of the entry point the hook called (see Unwinder::caller).
__attribute__((always_inline)) inline std::uint32_t capture_stack(Runtime& rt, ThreadState& thread,
                                                                  std::uintptr_t from) noexcept {
  std::uint32_t generation = rt.modules.generation();
  CallerFrame start;
  if (__builtin_expect(!rt.unwinder.caller(from, thread.stack_low, thread.stack_high, &start), 0)) {
    return walk_and_intern(rt, thread, nullptr, from, generation);
  }
  std::uint32_t id = 0;
  if (__builtin_expect(thread.stacks.find(start, generation, &id), 1)) {
    return id;
  }
  return walk_and_intern(rt, thread, &start, from, generation);
}

// The thread's errno, whose address never changes for a thread: asked of the C library once
// per thread (a call through the PLT) instead of twice per event.
__thread int* t_errno __attribute__((tls_model("initial-exec"))) = nullptr;

__attribute__((noinline, cold)) int* find_errno() noexcept {
  t_errno = &errno;
  return t_errno;
}

// The program's errno must come out of a hook exactly as the allocator left it.
class ErrnoGuard {
 public:
  ErrnoGuard() noexcept
      : m_errno(__builtin_expect(t_errno != nullptr, 1) ? t_errno : find_errno()), m_saved(*m_errno) {}
  ~ErrnoGuard() { *m_errno = m_saved; }
  ErrnoGuard(const ErrnoGuard&) = delete;
  ErrnoGuard& operator=(const ErrnoGuard&) = delete;

 private:
  int* m_errno;
  int m_saved;
};

// A thread's counters for `stack`, falling back to the unknown stack's (which always
// exists) when the toolkit is out of memory.
SiteCounters& site_or_unknown(ThreadState& thread, std::uint32_t* stack) noexcept {
  if (SiteCounters* site = thread.site(*stack)) {
    return *site;
  }
  *stack = StackTable::unknown_id;
  return *thread.site(StackTable::unknown_id);
}

// The palette index of the site's stack, asking the palette for one once the thread has
// allocated from the stack StackPalette::hot_allocations times; 0 while it has none.
std::uint32_t palette_index(Runtime& rt, SiteCounters& site, std::uint32_t stack) noexcept {
  if (__builtin_expect(site.palette_index != 0, 1)) {
    return site.palette_index;
  }
  if (!rt.shadow.enabled() || ++site.palette_wait < StackPalette::hot_allocations) {
    return 0;
  }
  site.palette_wait = 0;  // if the palette is full, ask again after as many allocations
  site.palette_index = rt.palette.index_of(stack);
  return site.palette_index;
}

// Enters a new live block: in the block shadow when `shadowable` (its cell naming palette
// entry `stack_index`) and the shadow can hold it, else in the live-block table (the mirror
// of take_live_block). Returns false, counted as dropped, when the table is out of memory.
// Always inlined: both allocation paths call it on every event.
__attribute__((always_inline)) inline bool enter_live_block(Runtime& rt, std::uintptr_t key, const BlockInfo& info,
                                                            bool shadowable, std::uint32_t stack_index) noexcept {
  if (shadowable && __builtin_expect(rt.shadow.enter(key, info.size, info.family, stack_index), 1)) {
    return true;
  }
  rt.shadow.clear(key);
  if (!rt.pointers.insert(key, info)) {
    rt.diagnostics.dropped_events.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

// Captures the allocating stack and enters a new block. Returns the block's site (and its
// stack id), or nullptr (counted as dropped) when the table is out of memory.
SiteCounters* enter_block(Runtime& rt, ThreadState& thread, std::uintptr_t from, std::uintptr_t address,
                          std::size_t size, AllocFamily family, std::uint32_t* stack) noexcept {
  *stack = capture_stack(rt, thread, from);
  SiteCounters& site = site_or_unknown(thread, stack);
  std::uint32_t index = palette_index(rt, site, *stack);
  if (!enter_live_block(rt, address, BlockInfo{size, *stack, family}, index != 0, index)) {
    return nullptr;
  }
  return &site;
}

// Applies one free to the account and the freeing thread's counters.
void account_free(Runtime& rt, ThreadState& thread, std::uintptr_t address, const BlockInfo& info) noexcept {
  std::uint32_t stack = info.stack;
  SiteCounters& site = site_or_unknown(thread, &stack);
  PeakTransition t = rt.account.event(-static_cast<std::int64_t>(info.size), thread.account_hint, thread.account_lease);
  site.on_event(t, false, info.size);
  thread.on_own_event(stack, false, info.size);
  if (thread.last_allocation == address) {
    bump(site.temporary_count, 1);
    thread.summary.on_temporary(info.size);
    thread.last_allocation = 0;
  }
}

// ---- sampled and counters modes -----------------------------------------------------
// Only sampled blocks carry a stack and enter the live-block table; the others, and every
// block in counters mode, keep their size in the block shadow (record/block_shadow.h, the
// table when the shadow cannot hold them), carry the unknown stack and touch no site. Per-
// site counters of sampled stacks hold estimates (record/sampler.h); the thread's
// EventTotals hold the exact counts. No event writes memory another thread owns: the
// process's live bytes are the threads' sum when read, and its peak is sampled
// (record/sampled_peak.h).

// A sampled block's site, and at a sampled allocation a look at the process's live bytes
// for the sampled peak. Out of line: rare, and its registers would otherwise be saved on
// every event.
__attribute__((noinline)) void sampled_event(Runtime& rt, ThreadState& thread, const BlockInfo& info,
                                             bool allocation) noexcept {
  SampleWeight w = sample_weight(info.size, rt.options.sample_interval, info.round_up);
  if (SiteCounters* site = thread.site(info.stack)) {
    site->on_event(PeakTransition{0, 0}, allocation, w.bytes, w.count);  // no per-site peak in this mode
  }
  if (allocation) {
    process_memory(rt);
  }
}

// One event of sampled or counters mode. Inline: every event of these modes comes here.
__attribute__((always_inline)) inline void light_event(Runtime& rt, ThreadState& thread, const BlockInfo& info,
                                                       bool allocation) noexcept {
  thread.on_own_event(info.stack, allocation, info.size);
  if (__builtin_expect(info.stack != StackTable::unknown_id, 0)) {
    sampled_event(rt, thread, info, allocation);  // reads the totals: after them
  }
}

// A free on a thread without a state (the toolkit was out of memory for one): kept in the
// process's live bytes, though no thread's counters can hold it.
void stateless_free(Runtime& rt, std::uint64_t bytes) noexcept {
  if (rt.options.mode == Mode::exact) {
    rt.account.apply(-static_cast<std::int64_t>(bytes));
  } else {
    rt.stateless_free_count.fetch_add(1, std::memory_order_relaxed);
    rt.stateless_freed_bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
  rt.diagnostics.dropped_events.fetch_add(1, std::memory_order_relaxed);
}

// The stack of a sampled allocation, and whether its count is rounded up. Out of line: one
// allocation in thousands.
__attribute__((noinline)) void sample_block(Runtime& rt, ThreadState& thread, std::uintptr_t from,
                                            BlockInfo* info) noexcept {
  info->stack = capture_stack(rt, thread, from);
  info->round_up = thread.sampler.round_up(info->size);
}

// An allocation of sampled or counters mode. Only sampled blocks carry a stack, and they go
// to the table (the shadow holds no stacks in these modes).
__attribute__((always_inline)) inline void light_allocation(Runtime& rt, ThreadState& thread, std::uintptr_t from,
                                                            std::uintptr_t key, std::size_t size, AllocFamily family,
                                                            Sampling sampling = Sampling::undecided) noexcept {
  BlockInfo info{size, StackTable::unknown_id, family};
  bool sampled = sampling == Sampling::undecided ? rt.options.mode == Mode::sampled && thread.sampler.take(size)
                                                 : sampling == Sampling::taken;
  if (__builtin_expect(sampled, 0)) {
    sample_block(rt, thread, from, &info);
  }
  if (enter_live_block(rt, key, info, info.stack == StackTable::unknown_id, 0)) {
    light_event(rt, thread, info, true);
  }
}

}  // namespace

// The entry points start the caller search at their own frame: the hook's frame is next.
#define MEASURE_ENTRY_FRAME() reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0))

namespace {

// Every allocation: the thread's state, then `record` (the mode's bookkeeping) with the
// block's key. `from`: the entry point's frame (see MEASURE_ENTRY_FRAME). Always inlined,
// like free_block below.
template <class Record>
__attribute__((always_inline)) inline void allocate_block(void* address, std::size_t size, AllocFamily family,
                                                          std::uintptr_t from, Record record) noexcept {
  ErrnoGuard errno_guard;
  Runtime& rt = runtime();
  ThreadState* thread = current_thread();
  if (thread == nullptr) {
    rt.diagnostics.dropped_events.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  record(rt, *thread, from, block_key(address, family), size, family);
}

__attribute__((always_inline)) inline void exact_allocation(Runtime& rt, ThreadState& thread, std::uintptr_t from,
                                                            std::uintptr_t key, std::size_t size,
                                                            AllocFamily family) noexcept {
  std::uint32_t stack = 0;
  SiteCounters* site = enter_block(rt, thread, from, key, size, family, &stack);
  if (site == nullptr) {
    return;
  }
  PeakTransition t = rt.account.event(static_cast<std::int64_t>(size), thread.account_hint, thread.account_lease);
  site->on_event(t, true, size);
  thread.on_own_event(stack, true, size);
  thread.last_allocation = key;
}

}  // namespace

void record_exact_allocation(void* address, std::size_t size, AllocFamily family) noexcept {
  allocate_block(address, size, family, MEASURE_ENTRY_FRAME(), exact_allocation);
}

void record_light_allocation(void* address, std::size_t size, AllocFamily family, Sampling sampling) noexcept {
  // A decision made for a thread that had a state then; it still has it (the same thread).
  allocate_block(address, size, family, MEASURE_ENTRY_FRAME(),
                 [sampling](Runtime& rt, ThreadState& thread, std::uintptr_t from, std::uintptr_t key,
                            std::size_t block_size, AllocFamily block_family) {
                   light_allocation(rt, thread, from, key, block_size, block_family, sampling);
                 });
}

namespace {

// Every free: forgets the block, counts what is odd about it, and hands it to `account`
// (the mode's bookkeeping) with the freeing thread's state. Returns whether the block was
// recorded. Always inlined: each mode's entry point is one copy with its own bookkeeping.
template <class Account>
__attribute__((always_inline)) inline bool free_block(void* address, AllocFamily family, Account account) noexcept {
  ErrnoGuard errno_guard;
  Runtime& rt = runtime();
  auto key = block_key(address, family);
  BlockInfo info;
  if (!take_live_block(rt, key, &info)) {
    (rt.attached ? rt.diagnostics.freed_before_attach : rt.diagnostics.unmatched_frees)
        .fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (!same_family(info.family, family)) {
    rt.diagnostics.mismatched_frees.fetch_add(1, std::memory_order_relaxed);
  }
  ThreadState* thread = current_thread();
  if (thread == nullptr) {
    stateless_free(rt, info.size);
    return true;
  }
  account(rt, *thread, key, info);
  return true;
}

}  // namespace

bool record_exact_free(void* address, AllocFamily family) noexcept {
  return free_block(address, family, account_free);
}

bool record_light_free(void* address, AllocFamily family) noexcept {
  return free_block(address, family, [](Runtime& rt, ThreadState& thread, std::uintptr_t, const BlockInfo& info) {
    light_event(rt, thread, info, false);
  });
}

bool take_block(void* address, BlockInfo* info) noexcept {
  return take_live_block(runtime(), reinterpret_cast<std::uintptr_t>(address), info);
}

void restore_block(void* address, const BlockInfo& info) noexcept {
  ErrnoGuard errno_guard;
  runtime().pointers.insert(reinterpret_cast<std::uintptr_t>(address), info);
}

void record_reallocation(void* old_address, const BlockInfo* old, void* fresh, std::size_t size) noexcept {
  ErrnoGuard errno_guard;
  Runtime& rt = runtime();
  auto old_key = reinterpret_cast<std::uintptr_t>(old_address);
  if (old == nullptr && old_address != nullptr) {
    (rt.attached ? rt.diagnostics.freed_before_attach : rt.diagnostics.unmatched_frees)
        .fetch_add(1, std::memory_order_relaxed);
  }
  if (old != nullptr && !same_family(old->family, AllocFamily::malloc)) {
    rt.diagnostics.mismatched_frees.fetch_add(1, std::memory_order_relaxed);
  }
  ThreadState* thread = current_thread();
  if (thread == nullptr) {
    if (old != nullptr) {
      stateless_free(rt, old->size);
    } else {
      rt.diagnostics.dropped_events.fetch_add(1, std::memory_order_relaxed);
    }
    return;
  }
  auto key = reinterpret_cast<std::uintptr_t>(fresh);
  if (rt.options.mode != Mode::exact) {
    // The free first: the peak never counts both blocks.
    if (old != nullptr) {
      light_event(rt, *thread, *old, false);
    }
    if (fresh != nullptr) {
      light_allocation(rt, *thread, MEASURE_ENTRY_FRAME(), key, size, AllocFamily::malloc);
    }
    return;
  }
  std::uint32_t stack = 0;
  SiteCounters* site = fresh != nullptr
                           ? enter_block(rt, *thread, MEASURE_ENTRY_FRAME(), key, size, AllocFamily::malloc, &stack)
                           : nullptr;
  if (site == nullptr) {
    // Freed with size 0, or the new block could not be recorded: only the free remains.
    if (old != nullptr) {
      account_free(rt, *thread, old_key, *old);
    }
    return;
  }
  // One account event for both halves: the old block's site loses its bytes and the new
  // block's site gains them at the same point of the order, as in the glossary (realloc is
  // a free plus an allocation at the realloc call site).
  std::int64_t delta = static_cast<std::int64_t>(size) - static_cast<std::int64_t>(old != nullptr ? old->size : 0);
  PeakTransition t = rt.account.event(delta, thread->account_hint, thread->account_lease);
  if (old != nullptr) {
    std::uint32_t old_stack = old->stack;
    SiteCounters& old_site = site_or_unknown(*thread, &old_stack);
    old_site.on_event(t, false, old->size);
    thread->on_own_event(old_stack, false, old->size);
    if (thread->last_allocation == old_key) {
      bump(old_site.temporary_count, 1);
      thread->summary.on_temporary(old->size);
    }
  }
  site->on_event(t, true, size);
  thread->on_own_event(stack, true, size);
  thread->last_allocation = key;
}

}  // namespace measure::detail
