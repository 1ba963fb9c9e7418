// Lifecycle of the runtime: lazy first-use initialization (possibly before any constructor
// has run), the library constructor's work at a safe point, fork handling, and the final
// capture at exit.
#include "capture/runtime.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "capture/capture_dump.h"
#include "capture/children.h"
#include "platform/platform.h"
#include "support/hash.h"
#include "support/internal_alloc.h"
#include "support/log.h"

extern char** environ;

namespace measure::detail {

void release_thread_state(void* state) noexcept;  // recorder.cpp
void keep_only_current_thread() noexcept;         // recorder.cpp
void restart_samplers() noexcept;                 // recorder.cpp

constinit Runtime g_runtime;
static_assert(std::is_trivially_destructible_v<Runtime>,
              "the runtime must outlive every static destructor, so it must never be destroyed");

__thread bool t_busy __attribute__((tls_model("initial-exec"))) = false;

namespace {

void start_checkpoints(Runtime& rt) noexcept;

// Resolves the output template against the working directory at start, so a program that
// changes directory still writes where the user asked.
void resolve_output_path(Runtime& rt) noexcept {
  const char* templ = rt.options.output;  // shorter than output_path (config.cpp checks)
  std::size_t t = std::strlen(templ);
  char cwd[2048];
  if (templ[0] == '/' || !platform::current_directory(cwd, sizeof cwd) ||
      std::strlen(cwd) + 1 + t + 1 > sizeof rt.output_path) {
    std::memcpy(rt.output_path, templ, t + 1);
    return;
  }
  std::size_t n = std::strlen(cwd);
  std::memcpy(rt.output_path, cwd, n);
  rt.output_path[n] = '/';
  std::memcpy(rt.output_path + n + 1, templ, t + 1);
}

bool is_measure_library(const char* entry, std::size_t size) noexcept {
  const char* base = entry;
  for (std::size_t i = 0; i < size; ++i) {
    if (entry[i] == '/') {
      base = entry + i + 1;
    }
  }
  std::size_t base_size = size - static_cast<std::size_t>(base - entry);
  auto is = [&](const char* name) { return base_size == std::strlen(name) && std::memcmp(base, name, base_size) == 0; };
  return is("libmeasure_preload.so") || is("libmeasure.so") || is("libmeasure.so.0") || is("libmeasure_audit.so");
}

// True when one of LD_PRELOAD's entries is this library (we were preloaded, not linked).
bool preloaded() noexcept {
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, "LD_PRELOAD=", 11) != 0) {
      continue;
    }
    for (const char* p = *entry + 11; *p != '\0';) {
      while (*p == ':' || *p == ' ') {
        ++p;
      }
      const char* start = p;
      while (*p != '\0' && *p != ':' && *p != ' ') {
        ++p;
      }
      if (p != start && is_measure_library(start, static_cast<std::size_t>(p - start))) {
        return true;
      }
    }
  }
  return false;
}

// With the preload set by hand (no MEASURE_INJECTED), children started with exec are not
// traced unless MEASURE_FOLLOW_EXEC: drop our libraries from LD_PRELOAD and LD_AUDIT in place
// (the strings only shrink, so no allocation is needed). Under `measure run` the program's
// environment is its own already (capture/environment.h).
void strip_preload_for_children() noexcept {
  if (environ == nullptr) {
    return;
  }
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::size_t prefix = std::strncmp(*entry, "LD_PRELOAD=", 11) == 0 ? 11
                         : std::strncmp(*entry, "LD_AUDIT=", 9) == 0  ? 9
                                                                      : 0;
    if (prefix == 0) {
      continue;
    }
    char* value = *entry + prefix;
    char* out = value;
    for (char* p = value; *p != '\0';) {
      while (*p == ':' || *p == ' ') {
        ++p;
      }
      char* start = p;
      while (*p != '\0' && *p != ':' && *p != ' ') {
        ++p;
      }
      std::size_t size = static_cast<std::size_t>(p - start);
      if (size == 0 || is_measure_library(start, size)) {
        continue;
      }
      if (out != value) {
        *out++ = ':';
      }
      std::memmove(out, start, size);
      out += size;
    }
    *out = '\0';
  }
}

// Keeps a copy of the command line for the captures (Runtime::command_line).
void remember_command_line(Runtime& rt) noexcept {
  constexpr std::size_t capacity = 64 * 1024;
  auto* scratch = static_cast<char*>(platform::map_pages(capacity));
  if (scratch == nullptr) {
    return;
  }
  std::size_t size = platform::command_line(scratch, capacity);
  auto* copy = size != 0 ? static_cast<char*>(internal_alloc(size)) : nullptr;
  if (copy != nullptr) {
    std::memcpy(copy, scratch, size);
    rt.command_line = copy;
    rt.command_line_size = size;
  }
  platform::unmap_pages(scratch, capacity);
}

void on_fork_prepare() noexcept {
  Runtime& rt = g_runtime;
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
  Runtime& rt = g_runtime;
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
  for (ThreadState* t = rt.threads.first(); t != nullptr; t = t->next_in_registry) {
    if (light) {
      count += load_relaxed(t->totals.alloc_count) - load_relaxed(t->totals.free_count);
      bytes += load_relaxed(t->totals.alloc_bytes) - load_relaxed(t->totals.freed_bytes);
    } else {
      for (std::uint32_t id = 0; id < t->chunk_limit() << ThreadState::site_chunk_bits; ++id) {
        if (const SiteCounters* s = t->find_site(id)) {
          count += load_relaxed(s->alloc_count) - load_relaxed(s->free_count);
          bytes += load_relaxed(s->alloc_bytes) - load_relaxed(s->freed_bytes);
        }
      }
    }
    t->reset_counters();
  }
  std::uint32_t inherited =
      rt.stacks.intern(nullptr, 0, UINT32_MAX, stack_inherited, hash_frames(nullptr, 0, UINT32_MAX));
  // In sampled and counters modes the inherited blocks keep no site (as unsampled blocks):
  // their frees change only the totals.
  rt.pointers.retag_all(light ? StackTable::unknown_id : inherited);
  rt.palette.retag_all(inherited);
  rt.account.reset();
  rt.timeline.reset();
  PeakTransition t = rt.account.apply(static_cast<std::int64_t>(bytes));
  ThreadState* thread = calling_thread_state();
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
  Runtime& rt = g_runtime;
  platform::close_inherited_files();
  internal_alloc_after_fork_child();
  rt.pointers.reset_locks_after_fork();
  rt.stacks.reset_locks_after_fork();
  rt.modules.reset_lock_after_fork();
  rt.writer_lock.reset_after_fork();
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

void on_exit_handler() noexcept {
  finish_capture();
}

// Samples the timeline every interval and writes a checkpoint every checkpoint interval, so
// a program killed by SIGKILL or the OOM killer still leaves a capture. A toolkit thread:
// everything it allocates is untraced, and no signal of the program is ever delivered to it
// (platform::start_thread blocks them all).
void* background_thread(void*) noexcept {
  t_busy = true;
  Runtime& rt = g_runtime;
  int owner = rt.owner_pid;
  std::uint64_t checkpoint_ns = rt.options.checkpoint_ms * 1000000ULL;
  std::uint64_t next_checkpoint = checkpoint_ns;
  for (;;) {
    std::uint64_t now = platform::monotonic_ns() - rt.start_monotonic_ns;
    std::uint64_t wake = rt.options.timeline ? now + rt.timeline.sleep_ns() : next_checkpoint;
    if (checkpoint_ns != 0) {
      wake = std::min(wake, next_checkpoint);
    }
    platform::sleep_ns(wake > now ? wake - now : 0);
    if (rt.current() != RuntimeState::recording || platform::process_id() != owner) {
      return nullptr;  // finished, off, or this copy of the thread belongs to an old parent
    }
    now = platform::monotonic_ns() - rt.start_monotonic_ns;
    if (rt.options.timeline) {
      rt.timeline.sample({now, rt.account.live(), platform::resident_bytes()}, rt.account.peak());
    }
    if (checkpoint_ns != 0 && now >= next_checkpoint) {
      rt.modules.scan();
      write_capture_file(rt, false);
      next_checkpoint = now + checkpoint_ns;
    }
  }
}

void start_checkpoints(Runtime& rt) noexcept {
  if (!rt.write_at_exit || (rt.options.checkpoint_ms == 0 && !rt.options.timeline)) {
    return;
  }
  if (rt.options.timeline) {
    // The chart's first point: nothing is live yet, or only what a forked child inherited.
    rt.timeline.sample(
        {platform::monotonic_ns() - rt.start_monotonic_ns, rt.account.live(), platform::resident_bytes()},
        rt.account.peak());
  }
  if (!platform::start_thread(&background_thread, nullptr)) {
    LogLine().text("cannot start the background thread; no timeline, and the capture is written at exit only").emit();
  }
}

}  // namespace

bool start_recording() noexcept {
  Runtime& rt = g_runtime;
  // Before the C library has set up the environment only the loader allocates (under
  // LD_AUDIT it does, for its own records of each module): not the program's memory, and
  // the options cannot be read yet. Such calls pass through; recording starts at the next.
  if (!platform::c_library_started()) {
    return false;
  }
  int expected = static_cast<int>(RuntimeState::uninitialized);
  if (!rt.state.compare_exchange_strong(expected, static_cast<int>(RuntimeState::initializing),
                                        std::memory_order_acq_rel)) {
    return false;  // another thread is initializing: its allocations are not recorded yet
  }
  BusyScope busy;
  // The options are measure's values; then the program's own environment is put back.
  parse_environment(environ, rt.options);
  rt.environment.settle(environ);
  if (rt.options.mode == Mode::sampled) {
    rt.sample_seed = rt.options.seed_set ? rt.options.seed : platform::random_u64();
  }
  rt.start_realtime_ns = platform::realtime_ns();
  rt.start_monotonic_ns = platform::monotonic_ns();
  rt.owner_pid = platform::process_id();
  resolve_output_path(rt);

  std::uintptr_t begin = 0;
  std::uintptr_t end = 0;
  if (platform::module_text_range(reinterpret_cast<const void*>(&start_recording), &begin, &end)) {
    rt.unwinder.set_own_range(begin, end);
  }
  RuntimeState next = RuntimeState::recording;
  if (rt.options.mode == Mode::off) {
    next = RuntimeState::off;
  } else if (!rt.stacks.init()) {
    LogLine().text("cannot reserve memory for the stack table; recording is off").emit();
    next = RuntimeState::off;
  } else if (rt.options.shadow) {
    rt.shadow.enable(rt.usable_size, rt.options.mode == Mode::exact);  // else every block takes the table
  }
  rt.state.store(static_cast<int>(next), std::memory_order_release);
  return next == RuntimeState::recording;
}

void on_library_loaded(LoadRole role) noexcept {
  Runtime& rt = g_runtime;
  if (role == LoadRole::dormant) {
    // Another copy of the runtime (the preloaded one) owns malloc in this process; this copy
    // must not write a second capture.
    int expected = static_cast<int>(RuntimeState::uninitialized);
    rt.state.compare_exchange_strong(expected, static_cast<int>(RuntimeState::dormant));
    rt.hooks_active = false;
    return;
  }
  rt.hooks_active = role == LoadRole::owner;

  if (!recording()) {
    return;
  }
  BusyScope busy;
  // A program that links the library is traced from its start but writes a capture at exit
  // only when asked (MEASURE_OUTPUT); a preloaded runtime always writes one.
  rt.write_at_exit = rt.options.output_set || preloaded();
  if (!rt.unwinder.find_tables()) {
    LogLine()
        .text(
            "the C library offers no lock-free lookup of unwind tables (glibc 2.35 has one); stacks follow frame "
            "pointers only and may be partial")
        .emit();
  }
  rt.modules.scan();
  // Opens /proc/self/statm now, at the top of the descriptor range, before the program runs:
  // the capture's resident size is then known at exit even in a program that has used up its
  // descriptors, with or without the timeline.
  platform::resident_bytes();
  remember_command_line(rt);
  rt.thread_slot_ready = platform::thread_exit_slot_create(&rt.thread_slot, &release_thread_state);
  platform::at_fork(&on_fork_prepare, &on_fork_parent, &on_fork_child);
  // Registered before main's static objects exist, so it runs after their destructors (and
  // after the loader's own finalizers), when the program's last frees have happened.
  if (!platform::at_exit(&on_exit_handler)) {
    LogLine().text("cannot register the exit handler; no capture will be written").emit();
  }
  platform::at_quick_exit(&on_exit_handler);
  start_checkpoints(rt);

  if (!rt.options.follow_exec && !rt.environment.known()) {
    strip_preload_for_children();
  }
}

void finish_capture() noexcept {
  Runtime& rt = g_runtime;
  // A vfork child shares the parent's memory and runs no fork handlers: its exit must not
  // finish (and stop) the parent's capture.
  if (rt.current() != RuntimeState::recording || platform::process_id() != rt.owner_pid) {
    return;
  }

  // Let libstdc++ release its emergency exception pool first, so it is not reported as a
  // leak (the glossary counts leaks after the C++ runtime's own cleanup). Its frees are the
  // program's and are recorded normally.
  void (*freeres)() = nullptr;
  {
    BusyScope busy;  // the lookup itself allocates (a failed one builds an error message)
    freeres = reinterpret_cast<void (*)()>(platform::find_symbol("_ZN9__gnu_cxx9__freeresEv", false));
  }
  if (freeres != nullptr) {
    freeres();
  }

  int expected = static_cast<int>(RuntimeState::recording);
  if (!rt.state.compare_exchange_strong(expected, static_cast<int>(RuntimeState::finished))) {
    return;
  }
  BusyScope busy;
  if (rt.write_at_exit) {
    rt.modules.scan();
    write_capture_file(rt, true);
  }
}

}  // namespace measure::detail
