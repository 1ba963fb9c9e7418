// Fork: the runtime's locks taken around it, and a followed child's capture of its own (or,
// not followed, a child that runs untraced).
#include "runtime/fork.h"

#include "platform/platform.h"
#include "runtime/background.h"
#include "runtime/children.h"
#include "runtime/process_memory.h"
#include "runtime/runtime.h"
#include "support/hash.h"
#include "support/internal_alloc.h"
#include "threads/threads.h"

namespace measure::detail {
namespace {

void on_fork_prepare() noexcept {
  Runtime& rt = runtime();
  rt.forks.fetch_add(1, std::memory_order_relaxed);  // the child's seed derives from it
  if (t_busy || rt.current() != RuntimeState::recording) {
    return;  // forking from inside the runtime (a signal handler): the child resets locks
  }
  rt.modules.lock();
  rt.stacks.lock_all();
  rt.pointers.lock_all();
  internal_alloc_before_fork();
}

void on_fork_parent() noexcept {
  Runtime& rt = runtime();
  if (t_busy || rt.current() != RuntimeState::recording) {
    return;
  }
  internal_alloc_after_fork_parent();
  rt.pointers.unlock_all();
  rt.stacks.unlock_all();
  rt.modules.unlock();
}

// A followed child's own capture: counters start from zero, and the blocks it inherited from
// its parent become one "inherited at fork" site (exact mode) or blocks without a site (the
// other modes), so their frees and leaks are still matched.
void start_child_capture(Runtime& rt) noexcept {
  rt.start_realtime_ns = platform::realtime_ns();
  rt.start_monotonic_ns = platform::monotonic_ns();
  rt.path_chosen = false;
  rt.write_warned = false;
  rt.diagnostics.reset();
  // A sample stream of its own, not its parent's: derived from the parent's seed and how many
  // times it had forked, so MEASURE_SEED still repeats the whole run.
  rt.sample_seed = mix64(rt.sample_seed + 0x9e3779b97f4a7c15ULL * rt.forks.load(std::memory_order_relaxed));
  restart_samplers();

  // The inherited blocks are in the block shadow and the live-block table; the shadow has no
  // entries to count, so their number and bytes come from the counters: the threads' exact
  // totals in sampled and counters modes, the sites in exact mode. (A free another thread of
  // the parent had begun but not yet counted at the fork counts as live here, for good: the
  // thread does not exist in the child.)
  bool light = rt.options.mode != Mode::exact;
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
  if (light) {
    EventTotals sum = light_totals(rt);
    count = sum.alloc_count - sum.free_count;
    bytes = sum.alloc_bytes - sum.freed_bytes;
  }
  for (ThreadState* t = rt.threads.first(); t != nullptr; t = t->next_in_registry) {
    if (!light) {
      t->for_each_site(UINT32_MAX, [&](std::uint32_t, const SiteCounters& s) {
        count += load_relaxed(s.alloc_count) - load_relaxed(s.free_count);
        bytes += load_relaxed(s.alloc_bytes) - load_relaxed(s.freed_bytes);
      });
    }
    t->reset_counters();
  }
  rt.threads.forget_exited();
  rt.inherited_count = count;
  rt.inherited_bytes = bytes;
  rt.stateless_free_count.store(0, std::memory_order_relaxed);
  rt.stateless_freed_bytes.store(0, std::memory_order_relaxed);
  std::uint32_t inherited =
      rt.stacks.intern(nullptr, 0, UINT32_MAX, stack_inherited, hash_frames(nullptr, 0, UINT32_MAX));
  // In sampled and counters modes the inherited blocks keep no site (as unsampled blocks):
  // their frees change only the totals.
  rt.pointers.retag_all(light ? StackTable::unknown_id : inherited);
  rt.palette.retag_all(inherited);
  rt.account.reset();
  rt.sampled_peak.reset(light ? bytes : 0);
  rt.timeline.reset();
  rt.intervals.reset();
  PeakTransition t = light ? PeakTransition{0, 0} : rt.account.apply(static_cast<std::int64_t>(bytes));
  ThreadState* thread = current_thread();
  if (thread == nullptr) {
    return;
  }
  if (light) {
    thread->totals.alloc_count = count;
    thread->totals.alloc_bytes = bytes;
  } else if (SiteCounters* site = thread->site(inherited)) {
    site->on_event(t, true, bytes);
    site->alloc_count = count;  // one event above stands for `count` blocks
  }
}

void on_fork_child() noexcept {
  Runtime& rt = runtime();
  platform::close_inherited_files();
  internal_alloc_after_fork_child();
  rt.pointers.reset_locks_after_fork();
  rt.stacks.reset_locks_after_fork();
  rt.modules.reset_lock_after_fork();
  rt.writer_lock.reset_after_fork();
  rt.scope_groups.reset_after_fork();
  shells_after_fork();
  rt.execs_starting.store(0, std::memory_order_relaxed);  // the threads calling exec stayed behind
  keep_only_current_thread();
  // The child is a process of its own, followed or not (children.h tells a vfork child, which
  // shares its parent's memory, by a pid that differs from this one).
  rt.owner_pid = platform::process_id();
  if (rt.current() != RuntimeState::recording) {
    return;
  }
  if (rt.options.follow_forks) {
    BusyScope busy;
    start_child_capture(rt);
    start_checkpoints(rt);
    return;
  }

  // Not followed: the child runs untraced and writes nothing. Every event passes straight
  // through to the program's allocator, including frees of the parent's blocks.
  rt.state.store(static_cast<int>(RuntimeState::off), std::memory_order_release);
}

}  // namespace

void register_fork_handlers() noexcept {
  platform::at_fork(&on_fork_prepare, &on_fork_parent, &on_fork_child);
}

}  // namespace measure::detail
