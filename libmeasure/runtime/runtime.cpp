// Lifecycle of the runtime: lazy first-use initialization (possibly before any constructor
// has run), the library constructor's work at a safe point, fork handling, and the final
// capture at exit.
#include "runtime/runtime.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <type_traits>

#include "format/runtime_files.h"
#include "platform/platform.h"
#include "runtime/background.h"
#include "runtime/children.h"
#include "runtime/fork.h"
#include "support/hash.h"
#include "support/internal_alloc.h"
#include "support/log.h"
#include "threads/threads.h"

extern char** environ;

namespace measure::detail {

constinit Runtime g_runtime;
static_assert(std::is_trivially_destructible_v<Runtime>,
              "the runtime must outlive every static destructor, so it must never be destroyed");

__thread bool t_busy __attribute__((tls_model("initial-exec"))) = false;
__thread bool t_keep_freed_memory __attribute__((tls_model("initial-exec"))) = false;

namespace {

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
// environment is its own already (runtime/environment.h).
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

void on_exit_handler() noexcept {
  finish_capture();
}

}  // namespace

namespace {

// The clocks, the process, the output path and the tables of a runtime about to record, from
// its options. Returns the state it takes: recording, or off (MEASURE_MODE=off, no memory).
RuntimeState set_up_tables(Runtime& rt) noexcept {
  if (rt.options.mode == Mode::sampled) {
    rt.sample_seed = rt.options.seed_set ? rt.options.seed : platform::random_u64();
  }
  rt.start_realtime_ns = platform::realtime_ns();
  rt.start_monotonic_ns = platform::monotonic_ns();
  rt.owner_pid = platform::process_id();
  resolve_output_path(rt);

  std::uintptr_t begin = 0;
  std::uintptr_t end = 0;
  if (platform::module_text_range(reinterpret_cast<const void*>(&set_up_tables), &begin, &end)) {
    rt.unwinder.set_own_range(begin, end);
  }
  if (rt.options.mode == Mode::off) {
    return RuntimeState::off;
  }
  if (!rt.stacks.init()) {
    LogLine().text("cannot reserve memory for the stack table; recording is off").emit();
    return RuntimeState::off;
  }
  if (rt.options.shadow) {
    rt.shadow.enable(rt.usable_size, rt.options.mode == Mode::exact);  // else every block takes the table
  }
  return RuntimeState::recording;
}

// The work of a safe point, once per process: unwind tables, modules, the exit and fork
// handlers.
void set_up_process(Runtime& rt) noexcept {
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
  register_fork_handlers();
  // Registered before main's static objects exist, so it runs after their destructors (and
  // after the loader's own finalizers), when the program's last frees have happened.
  if (!platform::at_exit(&on_exit_handler)) {
    LogLine().text("cannot register the exit handler; no capture will be written").emit();
  }
  platform::at_quick_exit(&on_exit_handler);
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
  RuntimeState next = set_up_tables(rt);
  rt.state.store(static_cast<int>(next), std::memory_order_release);
  return next == RuntimeState::recording;
}

int prepare_attached(char* const* settings) noexcept {
  Runtime& rt = g_runtime;
  int expected = static_cast<int>(RuntimeState::waiting);
  if (!rt.state.compare_exchange_strong(expected, static_cast<int>(RuntimeState::initializing),
                                        std::memory_order_acq_rel)) {
    return EBUSY;
  }
  BusyScope busy;
  parse_environment(settings, rt.options);
  if (set_up_tables(rt) != RuntimeState::recording) {
    rt.state.store(static_cast<int>(RuntimeState::off), std::memory_order_release);
    return ENOMEM;
  }
  rt.attached = true;
  rt.write_at_exit = true;
  set_up_process(rt);
  rt.state.store(static_cast<int>(RuntimeState::prepared), std::memory_order_release);
  start_checkpoints(rt);
  return 0;
}

bool begin_attached() noexcept {
  int expected = static_cast<int>(RuntimeState::prepared);
  return g_runtime.state.compare_exchange_strong(expected, static_cast<int>(RuntimeState::recording),
                                                 std::memory_order_acq_rel);
}

bool end_attached() noexcept {
  int expected = static_cast<int>(RuntimeState::recording);
  return g_runtime.state.compare_exchange_strong(expected, static_cast<int>(RuntimeState::detached),
                                                 std::memory_order_acq_rel);
}

void on_library_loaded(LoadRole role) noexcept {
  Runtime& rt = g_runtime;
  if (role == LoadRole::dormant || role == LoadRole::attach) {
    // Dormant: another copy of the runtime (the preloaded one) owns malloc in this process;
    // this copy must not write a second capture. Attach: nothing calls the hooks until
    // `measure attach` has given the settings and redirected the program's calls.
    int expected = static_cast<int>(RuntimeState::uninitialized);
    rt.state.compare_exchange_strong(
        expected, static_cast<int>(role == LoadRole::dormant ? RuntimeState::dormant : RuntimeState::waiting));
    rt.hooks_active = role == LoadRole::attach;
    return;
  }
  rt.hooks_active = role == LoadRole::owner;

  if (!ensure_started_and_recording()) {
    return;
  }
  BusyScope busy;
  // A program that links the library is traced from its start but writes a capture at exit
  // only when asked (MEASURE_OUTPUT); a preloaded runtime always writes one.
  rt.write_at_exit = rt.options.output_set || preloaded();
  set_up_process(rt);
  start_checkpoints(rt);

  if (!rt.options.follow_exec && !rt.environment.known()) {
    strip_preload_for_children();
  }
}

void finish_capture() noexcept {
  Runtime& rt = g_runtime;
  // A vfork child shares the parent's memory and runs no fork handlers: its exit must not
  // finish (and stop) the parent's capture.
  RuntimeState state = rt.current();
  if ((state != RuntimeState::recording && state != RuntimeState::detached) || platform::process_id() != rt.owner_pid) {
    return;
  }

  // Let libstdc++ release its emergency exception pool first, so it is not reported as a
  // leak (leaks are counted after the C++ runtime's own cleanup). The free is recorded but
  // the memory stays with the allocator: handing glibc a 70 KiB block makes it consolidate
  // every small block the program has freed, which cost xmllint a fifth of its run. The
  // process is exiting (or about to exec); libstdc++ no longer uses the pool either way.
  void (*freeres)() = nullptr;
  {
    BusyScope busy;  // the lookup itself allocates (a failed one builds an error message)
    freeres = reinterpret_cast<void (*)()>(platform::find_symbol("_ZN9__gnu_cxx9__freeresEv", false));
  }
  if (freeres != nullptr) {
    BusyScope busy;
    t_keep_freed_memory = true;
    freeres();
    t_keep_freed_memory = false;
  }

  int expected = static_cast<int>(state);
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
