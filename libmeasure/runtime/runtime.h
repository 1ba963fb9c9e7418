// The recording runtime: one instance per process, in static storage, never destroyed (late
// frees from static destructors and detached threads must still find it), and its lifecycle:
// start on first use, the library constructor's work, exit. The hooks call the record_*
// functions of record/record.h; fork and exec are in runtime/children.h.
//
// Threading: the hot path takes no global lock. Per-thread state holds per-site counters;
// the live-block table and the stack index are sharded; in exact mode the one shared word per
// event is the GlobalAccount CAS (leases avoid it away from the peak), and sampled and
// counters modes have none.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "record/block_shadow.h"
#include "record/peak.h"
#include "record/pointer_table.h"
#include "record/sampled_peak.h"
#include "record/stack_palette.h"
#include "runtime/config.h"
#include "runtime/environment.h"
#include "runtime/intervals.h"
#include "runtime/timeline.h"
#include "stacks/module_map.h"
#include "stacks/stack_table.h"
#include "stacks/unwind.h"
#include "threads/scope_groups.h"
#include "threads/thread_state.h"

namespace measure::detail {

enum class RuntimeState : int {
  uninitialized = 0,
  initializing = 1,
  recording = 2,
  finished = 3,  // the final capture was written; events pass through
  off = 4,       // MEASURE_MODE=off, or a forked child that is not followed
  dormant = 5,   // another copy of the runtime owns the hooks in this process
  // Loaded by `measure attach` (runtime/attach.h): waiting for its settings, set up and not
  // recording yet, or detached (the background thread writes the capture, then finished).
  waiting = 6,
  prepared = 7,
  detached = 8,
};

/// Counters of what the runtime could not see or keep; written to the capture's
/// diagnostics section under the same names.
struct Diagnostics {
  std::atomic<std::uint64_t> unmatched_frees{0};         // free of an address never recorded
  std::atomic<std::uint64_t> mismatched_frees{0};        // e.g. delete of malloc'ed memory
  std::atomic<std::uint64_t> dropped_events{0};          // toolkit out of memory: event not recorded
  std::atomic<std::uint64_t> unknown_stacks{0};          // stack table full: event kept without a stack
  std::atomic<std::uint64_t> bootstrap_allocations{0};   // served while the originals were resolved
  std::atomic<std::uint64_t> negative_contributions{0};  // consistency check of peak attribution
  std::atomic<std::uint64_t> untraced_forks{0};          // forked children not followed (runtime/children.h)
  std::atomic<std::uint64_t> untraced_execs{0};          // programs started by exec or spawn, not followed
  std::atomic<std::uint64_t> scopes_too_deep{0};         // scopes opened beyond the nesting limit: not recorded
  std::atomic<std::uint64_t> freed_before_attach{0};     // attached: free of a block allocated before

  void reset() noexcept {
    for (auto* c :
         {&unmatched_frees, &mismatched_frees, &dropped_events, &unknown_stacks, &bootstrap_allocations,
          &negative_contributions, &untraced_forks, &untraced_execs, &scopes_too_deep, &freed_before_attach}) {
      c->store(0, std::memory_order_relaxed);
    }
  }
};

class Runtime {
 public:
  Options options;
  PointerTable pointers;
  BlockShadow shadow;                        // live blocks found by address (the table holds the others)
  StackPalette palette;                      // exact mode: the stacks shadow cells can name
  UsableSizeFunction usable_size = nullptr;  // the allocator's, set by the hooks
  StackTable stacks;
  GlobalAccount account;     // exact mode: live bytes and peak, exact at every event
  SampledPeak sampled_peak;  // sampled and counters modes: the peak seen when looking
  // Sampled and counters modes: frees on a thread without a state (the toolkit was out of
  // memory for one), which no thread's counters hold.
  std::atomic<std::uint64_t> stateless_free_count{0};
  std::atomic<std::uint64_t> stateless_freed_bytes{0};
  ModuleMap modules;
  ThreadRegistry threads;
  Unwinder unwinder;
  Diagnostics diagnostics;
  ScopeNames scope_names;
  ScopeGroups scope_groups;
  Timeline timeline;
  SiteIntervals intervals;          // exact mode, with the timeline: per stack, per interval of time
  InjectedEnvironment environment;  // what `measure run` added to the program's environment
  std::atomic<int> state{static_cast<int>(RuntimeState::uninitialized)};
  std::uint64_t sample_seed = 0;                   // sampled mode: the process's seed (MEASURE_SEED or random)
  std::atomic<std::uint64_t> threads_attached{0};  // threads seeded from it so far
  std::atomic<std::uint64_t> forks{0};             // fork calls so far: a followed child's seed derives from it
  // A followed fork child: the blocks it inherited, counted in its totals as allocations
  // (one inherited site in exact mode) but in no size class of the summary.
  std::uint64_t inherited_count = 0;
  std::uint64_t inherited_bytes = 0;
  std::uint64_t start_realtime_ns = 0;
  std::uint64_t start_monotonic_ns = 0;
  char output_path[4096] = {};  // the resolved output template (absolute)
  char chosen_path[4096] = {};  // where this process's capture goes, decided at its first write
  // The command line (/proc/self/cmdline) read at start, so a capture names it without opening
  // a file when the program has used up its descriptors; nullptr: read it when writing.
  const char* command_line = nullptr;
  std::size_t command_line_size = 0;
  bool path_chosen = false;
  bool write_warned = false;           // a failed write has been reported (once per process)
  int owner_pid = 0;                   // the process this runtime records (a vfork child is another)
  std::atomic<int> execs_starting{0};  // exec calls that wrote the capture just before (children.h)

  SpinLock writer_lock;  // one capture writer at a time (exit, checkpoints, API)

  unsigned thread_slot = 0;
  bool thread_slot_ready = false;
  bool hooks_active = true;
  bool write_at_exit = true;       // preloaded, or MEASURE_OUTPUT set; a linked library writes on request
  bool attached = false;           // loaded into the running process by `measure attach`
  bool written_at_detach = false;  // attached: the final capture is the detach's, not the exit's
  // Attached: redirects the calls of libraries loaded since the last call (hooks/attach.cpp);
  // the background thread calls it while recording.
  void (*redirect_new_modules)() noexcept = nullptr;

  /// Whether the background thread closes intervals (SiteIntervals): exact mode, unless
  /// MEASURE_INTERVALS=0.
  bool keeps_intervals() const noexcept { return options.intervals && options.mode == Mode::exact; }

  RuntimeState current() const noexcept { return static_cast<RuntimeState>(state.load(std::memory_order_acquire)); }
};

extern constinit Runtime g_runtime;
inline Runtime& runtime() noexcept {
  return g_runtime;
}

// ---- re-entrancy ---------------------------------------------------------------------
// `__thread` with the initial-exec model: a plain %fs-relative access, no TLS wrapper call,
// no allocation on first touch in a new thread.
extern __thread bool t_busy __attribute__((tls_model("initial-exec")));

/// True while the calling thread is inside the runtime (recording, or forwarding to an
/// original that may call back into the hooks). Allocations made then pass straight through.
inline bool thread_busy() noexcept {
  return t_busy;
}

/// Set on the thread that runs libstdc++'s exit cleanup (finish_capture): a free it makes
/// then is recorded but not handed to the allocator. Checked only on the busy path.
extern __thread bool t_keep_freed_memory __attribute__((tls_model("initial-exec")));

class BusyScope {
 public:
  BusyScope() noexcept : m_was_busy(t_busy) { t_busy = true; }
  ~BusyScope() { t_busy = m_was_busy; }
  BusyScope(const BusyScope&) = delete;
  BusyScope& operator=(const BusyScope&) = delete;

 private:
  bool m_was_busy;
};

// ---- lifecycle -----------------------------------------------------------------------
/// What this copy of the library is in the process.
enum class LoadRole {
  owner,       // its hooks receive the program's allocations
  attach,      // loaded by `measure attach`: waits for its settings (runtime/attach.h)
  dormant,     // another copy of measure owns them: record nothing, write nothing
  incomplete,  // the program's own allocator owns malloc: record what still reaches us and
               // say in the capture that it is incomplete
};

/// Starts the runtime (reads the options, sets up the tables); the slow path of
/// ensure_started_and_recording(), on the first event, which may come before any constructor.
/// Returns whether recording is on afterwards.
bool start_recording() noexcept;

/// Starts the runtime on its first call; then true when events are recorded now.
/// pre: the originals are resolved.
inline bool ensure_started_and_recording() noexcept {
  int state = g_runtime.state.load(std::memory_order_acquire);
  return __builtin_expect(state == static_cast<int>(RuntimeState::recording), 1) ||
         (state == static_cast<int>(RuntimeState::uninitialized) && start_recording());
}
/// The library constructor's part: load unwind tables, scan modules, register exit and fork
/// handlers, according to this copy's role in the process.
void on_library_loaded(LoadRole role) noexcept;

// `measure attach` (hooks/attach.cpp) drives a copy loaded with LoadRole::attach through
// waiting -> prepared -> recording -> detached -> finished.

/// Reads the options from `settings` (environ-style MEASURE_* entries, NULL-terminated), sets
/// up the tables and the process's handlers and starts the background thread, without
/// recording yet. Returns 0, EBUSY when this copy is not waiting for settings, or ENOMEM.
int prepare_attached(char* const* settings) noexcept;
/// Recording on, before the program's calls are redirected to the hooks. False unless prepared.
bool begin_attached() noexcept;
/// Recording off, after the calls went back: the background thread writes the capture (and
/// the exit handler, if the process exits first). False unless recording.
bool end_attached() noexcept;

/// Writes the final capture (runs from the exit handler). Idempotent.
void finish_capture() noexcept;

}  // namespace measure::detail
