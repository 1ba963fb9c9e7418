// The interposed functions that start processes (hooked_functions.h, the process group). The
// exec family and posix_spawn give the program they start the environment of
// runtime/children.h: when exec'd programs are followed, a copy that carries the runtime,
// built on this thread's stack (the only memory a vfork child may use) or, when it does not
// fit there, in mapped pages. system() and popen() start their shell inside the C library
// with `environ`, so they run with a copy of `environ` instead (children.h, begin_shell).
// Each hook counts what it starts untraced and leaves errno as the original left it.
#include <cerrno>
#include <cstdarg>

#include "hooks/hooks.h"
#include "platform/platform.h"
#include "runtime/children.h"

extern char** environ;

namespace measure::hooks {
namespace {

// A hook whose original the C library lacks fails as a call of the missing function would.
int unavailable() noexcept {
  errno = ENOSYS;
  return -1;
}

// Calls `start(envp, traced)` with the environment the started program gets, and whether
// that program will be traced.
template <class Start>
int with_child_environment(char* const* envp, Start start) noexcept {
  std::size_t bytes = detail::child_environment_bytes(envp);
  if (bytes == 0) {
    return start(envp, detail::inherits_tracing());
  }
  void* memory = nullptr;
  bool mapped = false;
  if (bytes <= detail::stack_room(&bytes)) {
    memory = __builtin_alloca(bytes);
  } else if (!detail::in_vfork_child()) {
    memory = detail::platform::map_pages(bytes);
    mapped = memory != nullptr;
  }
  char* const* env = memory != nullptr ? detail::child_environment(envp, memory, bytes) : nullptr;
  int rc = start(env != nullptr ? env : envp, env != nullptr);
  if (mapped) {
    int saved = errno;
    detail::platform::unmap_pages(memory, bytes);
    errno = saved;
  }
  return rc;
}

// An exec: the count and the capture first (children.h), then `exec(envp)`, which returns
// only when it failed.
template <class Exec>
int exec_hook(char* const* envp, Exec exec) noexcept {
  return with_child_environment(envp, [&](char* const* env, bool traced) {
    detail::ExecAttempt attempt = detail::before_exec(traced);
    int rc = exec(env);
    detail::exec_failed(attempt);
    return rc;
  });
}

// posix_spawn and posix_spawnp (`which` original): 0 once the program started.
using SpawnFunction = decltype(Originals::posix_spawn);
int spawn_hook(SpawnFunction Originals::*which, pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
               const posix_spawnattr_t* attributes, char* const* argv, char* const* envp) noexcept {
  if (!resolve_originals_once() || g_originals.*which == nullptr) {
    return ENOSYS;
  }
  SpawnFunction original = g_originals.*which;
  return with_child_environment(envp, [&](char* const* env, bool traced) {
    int rc = original(pid, path, actions, attributes, argv, env);
    detail::spawned(rc == 0, traced);
    return rc;
  });
}

// The arguments of execl, execle and execlp after the first: how many up to the NULL.
std::size_t count_arguments(const char* first, std::va_list rest) noexcept {
  std::size_t n = 0;
  for (const char* arg = first; arg != nullptr; arg = va_arg(rest, const char*)) {
    ++n;
  }
  return n;
}

// Copies `n` arguments (`first`, then `rest`) and the NULL into `argv`, and returns what
// follows the NULL when `with_environment` (execle's envp), else nullptr.
char* const* copy_arguments(char** argv, std::size_t n, const char* first, std::va_list rest,
                            bool with_environment) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    argv[i] = const_cast<char*>(i == 0 ? first : va_arg(rest, const char*));
  }
  argv[n] = nullptr;
  if (!with_environment) {
    return nullptr;
  }
  if (n != 0) {
    (void)va_arg(rest, const char*);  // the NULL
  }
  return va_arg(rest, char* const*);
}

int call_execve(const char* path, char* const* argv, char* const* envp) noexcept {
  if (!resolve_originals_once() || g_originals.execve == nullptr) {
    return unavailable();
  }
  return exec_hook(envp, [&](char* const* env) { return g_originals.execve(path, argv, env); });
}

int call_execvpe(const char* file, char* const* argv, char* const* envp) noexcept {
  if (!resolve_originals_once() || g_originals.execvpe == nullptr) {
    return unavailable();
  }
  return exec_hook(envp, [&](char* const* env) { return g_originals.execvpe(file, argv, env); });
}

}  // namespace
}  // namespace measure::hooks

using namespace measure::hooks;
using measure::detail::begin_shell;
using measure::detail::end_shell;
using measure::detail::spawned;

// execl, execle and execlp: the list becomes an array on the stack, as the C library does it.
#define MEASURE_LIST_ARGUMENTS(first, argv, envp, with_environment)                             \
  std::va_list arguments;                                                                       \
  va_start(arguments, first);                                                                   \
  std::size_t argument_count = count_arguments(first, arguments);                               \
  va_end(arguments);                                                                            \
  auto** argv = static_cast<char**>(__builtin_alloca((argument_count + 1) * sizeof(char*)));    \
  va_start(arguments, first);                                                                   \
  char* const* envp = copy_arguments(argv, argument_count, first, arguments, with_environment); \
  va_end(arguments)

extern "C" {

MEASURE_EXPORT pid_t fork() {
  if (!resolve_originals_once() || g_originals.fork == nullptr) {
    return unavailable();
  }
  pid_t pid = g_originals.fork();
  if (pid > 0 && !measure::detail::thread_busy()) {
    measure::detail::forked(pid);
  }
  return pid;
}

MEASURE_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
  return call_execve(path, argv, envp);
}

MEASURE_EXPORT int execv(const char* path, char* const argv[]) {
  return call_execve(path, argv, environ);
}

MEASURE_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
  return call_execvpe(file, argv, envp);
}

MEASURE_EXPORT int execvp(const char* file, char* const argv[]) {
  return call_execvpe(file, argv, environ);
}

MEASURE_EXPORT int execl(const char* path, const char* arg, ...) {
  MEASURE_LIST_ARGUMENTS(arg, argv, unused, false);
  (void)unused;
  return call_execve(path, argv, environ);
}

MEASURE_EXPORT int execle(const char* path, const char* arg, ...) {
  MEASURE_LIST_ARGUMENTS(arg, argv, envp, true);
  return call_execve(path, argv, envp);
}

MEASURE_EXPORT int execlp(const char* file, const char* arg, ...) {
  MEASURE_LIST_ARGUMENTS(arg, argv, unused, false);
  (void)unused;
  return call_execvpe(file, argv, environ);
}

MEASURE_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
  if (!resolve_originals_once() || g_originals.fexecve == nullptr) {
    return unavailable();
  }
  return exec_hook(envp, [&](char* const* env) { return g_originals.fexecve(fd, argv, env); });
}

MEASURE_EXPORT int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                               const posix_spawnattr_t* attributes, char* const argv[], char* const envp[]) {
  return spawn_hook(&Originals::posix_spawn, pid, path, actions, attributes, argv, envp);
}

MEASURE_EXPORT int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
                                const posix_spawnattr_t* attributes, char* const argv[], char* const envp[]) {
  return spawn_hook(&Originals::posix_spawnp, pid, file, actions, attributes, argv, envp);
}

MEASURE_EXPORT int system(const char* command) {
  if (!resolve_originals_once() || g_originals.system == nullptr) {
    return unavailable();
  }
  if (measure::detail::thread_busy()) {
    return g_originals.system(command);
  }
  bool traced = begin_shell();
  int rc = g_originals.system(command);
  end_shell(traced);
  // system(NULL) starts a shell too, to see that there is one; it answers nonzero then.
  spawned(command != nullptr ? rc != -1 : rc != 0, traced);
  return rc;
}

MEASURE_EXPORT FILE* popen(const char* command, const char* mode) {
  if (!resolve_originals_once() || g_originals.popen == nullptr) {
    unavailable();
    return nullptr;
  }
  if (measure::detail::thread_busy()) {
    return g_originals.popen(command, mode);
  }
  bool traced = begin_shell();
  FILE* stream = g_originals.popen(command, mode);
  end_shell(traced);
  spawned(stream != nullptr, traced);
  return stream;
}

}  // extern "C"
