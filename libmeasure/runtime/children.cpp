#include "runtime/children.h"

#include <cerrno>

#include "format/runtime_files.h"
#include "platform/platform.h"
#include "runtime/runtime.h"
#include "support/spinlock.h"
#include "threads/threads.h"

extern char** environ;

namespace measure::detail {
namespace {

bool following_exec() noexcept {
  return runtime().options.follow_exec;
}

// Counts only what the traced process (or its vfork child, which shares its counters) starts.
bool counting() noexcept {
  return runtime().current() == RuntimeState::recording;
}

// The copy of `environ` that system() and popen() start their shell with (begin_shell).
struct ShellEnvironment {
  SpinLock lock;
  unsigned users = 0;
  char** saved = nullptr;   // the program's environ
  char** active = nullptr;  // the copy, in `memory`
  void* memory = nullptr;
  std::size_t bytes = 0;
  InjectedEnvironment::Replaced replaced = {};

  // The program's environment again. pre: the lock is held (or single-threaded).
  void restore() noexcept {
    if (environ == active) {
      environ = saved;
    } else {
      // The program replaced the copy meanwhile (another thread's setenv copies the array it
      // finds): its new array must lose the injected entries, whose strings go away now.
      runtime().environment.take_back(environ, memory, bytes, replaced);
    }
    platform::unmap_pages(memory, bytes);
    users = 0;
    saved = nullptr;
    active = nullptr;
    memory = nullptr;
    bytes = 0;
  }
};
constinit ShellEnvironment g_shell;

}  // namespace

std::size_t child_environment_bytes(char* const* envp) noexcept {
  Runtime& rt = runtime();
  return following_exec() && rt.environment.known() ? rt.environment.child_bytes(envp) : 0;
}

char* const* child_environment(char* const* envp, void* memory, std::size_t bytes) noexcept {
  return runtime().environment.child_environment(envp, memory, bytes);
}

bool inherits_tracing() noexcept {
  return following_exec() && !runtime().environment.known();
}

bool in_vfork_child() noexcept {
  // The runtime keeps its owner's pid, also in forked children (runtime.cpp), so only a
  // process that shares the memory of another has a pid that differs from it.
  return platform::process_id() != runtime().owner_pid;
}

std::size_t stack_room(const void* here) noexcept {
  // Room for exec itself and the C library's own frames stays free; without a known stack
  // (a thread that never allocated) only one page is taken.
  constexpr std::size_t reserve = 64 * 1024;
  constexpr std::size_t unknown = 4096;
  std::uintptr_t low = 0;
  auto at = reinterpret_cast<std::uintptr_t>(here);
  if (!calling_thread_stack_low(&low) || at < low) {
    return unknown;
  }
  return at - low > reserve ? at - low - reserve : 0;
}

ExecAttempt before_exec(bool traced) noexcept {
  Runtime& rt = runtime();
  ExecAttempt attempt;
  attempt.counted = !traced && counting();
  if (attempt.counted) {
    rt.diagnostics.untraced_execs.fetch_add(1, std::memory_order_relaxed);
  }
  // A thread inside the runtime (a signal handler that execs) could deadlock on the locks
  // the writer takes; then the last checkpoint stays the capture, as with _exit.
  if (counting() && rt.write_at_exit && !in_vfork_child() && !thread_busy()) {
    int saved = errno;
    BusyScope busy;
    // No checkpoint may replace this capture, which is the final one if the exec succeeds.
    rt.execs_starting.fetch_add(1, std::memory_order_acq_rel);
    rt.modules.scan();
    write_capture_file(rt, true);
    attempt.wrote = true;
    errno = saved;
  }
  return attempt;
}

void exec_failed(const ExecAttempt& attempt) noexcept {
  if (attempt.counted) {
    runtime().diagnostics.untraced_execs.fetch_sub(1, std::memory_order_relaxed);
  }
  if (attempt.wrote) {
    runtime().execs_starting.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void spawned(bool started, bool traced) noexcept {
  if (started && !traced && counting()) {
    runtime().diagnostics.untraced_execs.fetch_add(1, std::memory_order_relaxed);
  }
}

void forked(int pid) noexcept {
  Runtime& rt = runtime();
  if (pid > 0 && !rt.options.follow_forks && counting()) {
    rt.diagnostics.untraced_forks.fetch_add(1, std::memory_order_relaxed);
  }
}

bool begin_shell() noexcept {
  Runtime& rt = runtime();
  if (!following_exec()) {
    return false;
  }
  if (!rt.environment.known()) {
    return true;  // set by hand: environ carries the preload as it is
  }
  int saved_errno = errno;
  SpinGuard guard(g_shell.lock);
  bool ready = g_shell.users != 0;
  if (!ready) {
    std::size_t bytes = rt.environment.child_bytes(environ);
    void* memory = platform::map_pages(bytes);
    char** active =
        memory != nullptr ? rt.environment.child_environment(environ, memory, bytes, &g_shell.replaced) : nullptr;
    if (active != nullptr) {
      g_shell.saved = environ;
      g_shell.active = active;
      g_shell.memory = memory;
      g_shell.bytes = bytes;
      environ = active;
      ready = true;
    } else {
      platform::unmap_pages(memory, bytes);
    }
  }
  g_shell.users += ready ? 1 : 0;
  errno = saved_errno;
  return ready;
}

void end_shell(bool began) noexcept {
  if (!began || !runtime().environment.known()) {
    return;
  }
  int saved_errno = errno;
  SpinGuard guard(g_shell.lock);
  if (g_shell.users != 0 && --g_shell.users == 0) {
    g_shell.restore();
  }
  errno = saved_errno;
}

void shells_after_fork() noexcept {
  g_shell.lock.reset_after_fork();
  if (g_shell.users != 0) {
    g_shell.restore();
  }
}

}  // namespace measure::detail
