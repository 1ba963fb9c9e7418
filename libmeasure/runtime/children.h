// Processes the program starts: whether they are traced, the environment that traces an
// exec'd program (--follow-exec, runtime/environment.h), the count of those that are not
// traced (the capture's untraced_forks and untraced_execs), and the capture a traced process
// writes just before it replaces itself with exec. The hooks of hooks/hooks_process.cpp call
// these; none of them allocates from the program's heap, and the ones a vfork child may reach
// (everything but the shell functions) use only memory the caller gives them.
#pragma once

#include <cstddef>

namespace measure::detail {

/// Bytes of memory child_environment needs for a program started with `envp`; 0 when the
/// program gets `envp` unchanged (exec'd programs are not followed, or the preload was set
/// by hand and `envp` carries it already).
std::size_t child_environment_bytes(char* const* envp) noexcept;
/// The environment of a program started with `envp`, built in `memory` (`bytes` from
/// child_environment_bytes), or nullptr when it cannot be built (the program then gets `envp`
/// and is not traced).
char* const* child_environment(char* const* envp, void* memory, std::size_t bytes) noexcept;
/// True when a program started with an unchanged environment is traced: exec'd programs are
/// followed and the environment already carries the preload (set by hand).
bool inherits_tracing() noexcept;

/// True in the child of vfork (or of clone with CLONE_VM), which shares its parent's memory
/// until it execs or exits: it may use its stack, never a heap.
bool in_vfork_child() noexcept;
/// Bytes of the calling thread's stack that may hold a child's environment below `here` (an
/// address in the caller's frame).
std::size_t stack_room(const void* here) noexcept;

/// What before_exec did, for exec_failed to undo.
struct ExecAttempt {
  bool counted = false;  // the program was counted as untraced
  bool wrote = false;    // the capture was written (checkpoints wait meanwhile)
};
/// Just before the program (the traced process itself, or a vfork child) calls exec: counts
/// the program it starts when that one is not `traced` and, in the traced process itself,
/// writes the capture, so what happened before the exec is kept (with --follow-exec the new
/// program writes its own capture next to it). Keeps errno.
ExecAttempt before_exec(bool traced) noexcept;
/// The exec returned, so it failed: the count is taken back; recording goes on, and the
/// capture is rewritten by checkpoints and at exit as usual. Keeps errno.
void exec_failed(const ExecAttempt& attempt) noexcept;
/// posix_spawn, system or popen returned: counts the program when one was `started` that is
/// not `traced`. Keeps errno.
void spawned(bool started, bool traced) noexcept;
/// fork returned `pid` in the parent: counts a child that is not followed. Keeps errno.
void forked(int pid) noexcept;

/// system() and popen() start their shell inside the C library, with the environment in
/// `environ`, through calls no hook sees. While one of them runs, `environ` is therefore a
/// copy that carries the runtime (when exec'd programs are followed), shared by concurrent
/// calls and restored when the last one returns. Returns whether the shell will be traced;
/// pair each call with end_shell.
bool begin_shell() noexcept;
void end_shell(bool began) noexcept;
/// Forked child: the threads that were inside system() or popen() do not exist in it, so its
/// environment is the program's own again.
void shells_after_fork() noexcept;

}  // namespace measure::detail
