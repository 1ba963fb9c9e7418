// Starting the measured program and waiting for it (the only process control in the tools).
#pragma once

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace measure::tools {

struct ChildResult {
  int pid = 0;
  int exit_code = 0;  // valid when signal == 0
  int signal = 0;     // the signal that killed it, else 0
  int status() const noexcept { return signal != 0 ? 128 + signal : exit_code; }
};

/// Starts `argv` (argv[0] looked up in PATH like execvp) with `environment` added to (and
/// overriding) the current environment, and waits for it. While it runs, SIGINT and SIGQUIT
/// are ignored here (the terminal delivers them to the child, which is in our process group)
/// and SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 are forwarded to it. Throws UsageError when the
/// program cannot be executed (not found, not executable, exec failed). `started`, when given,
/// is called with the child's pid once the program is executing, before the wait; it must
/// not throw.
ChildResult run_child(const std::vector<std::string>& argv,
                      const std::vector<std::pair<std::string, std::string>>& environment,
                      const std::function<void(int pid)>& started = {});

/// The files process `pid` has mapped executable (its program and shared libraries), each
/// once, in the order of their addresses; empty when its mappings cannot be read (it ended,
/// or belongs to another user).
std::vector<std::string> executable_files(int pid);

/// The value of `name` in the environment process `pid` was started with (its initial
/// environment, as /proc shows it); empty when it has none or cannot be read.
std::string started_environment_value(int pid, const std::string& name);
/// True while process `pid` exists (of any user), not a zombie.
bool process_running(int pid);

/// The path execvp would run for `program`, or "" when none is found.
std::string find_in_path(const std::string& program);

/// The directory of the running `measure` executable.
std::string own_directory();

/// Why the loader would start `path` in secure-execution mode, in which it ignores
/// LD_PRELOAD: "set-user-ID (it runs as user nobody)", "set-group-ID (...)" or "given file
/// capabilities" (for a user other than root); empty when it would not (no such bit, a file
/// system mounted nosuid, the owner is the user running it, or no new privileges may be
/// gained). pre: `path` is an ELF program (the kernel ignores these bits on scripts).
std::string secure_execution(const std::string& path);

/// An exclusive lock on the file at `path` (created when missing), which processes taking the
/// same lock wait for: it serializes requests through one channel. Released when destroyed,
/// and by the kernel when the process ends.
class FileLock {
 public:
  /// Waits for the lock until `deadline`; locked() is false when it did not get it (or the
  /// file cannot be opened).
  FileLock(const std::string& path, std::chrono::steady_clock::time_point deadline);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool locked() const noexcept { return m_fd >= 0; }

 private:
  int m_fd = -1;
};

/// A private directory (mode 0700, under $TMPDIR or /tmp, named `prefix`.XXXXXX) where the
/// runtime notes why a process could not write its capture (MEASURE_STATUS_DIR: an empty
/// file PID.ERRNO per failure) and finds requests. Removed with its files when destroyed;
/// path() is empty when none could be made.
class StatusDirectory {
 public:
  explicit StatusDirectory(const char* prefix = "measure-run");
  ~StatusDirectory();
  StatusDirectory(const StatusDirectory&) = delete;
  StatusDirectory& operator=(const StatusDirectory&) = delete;
  const std::string& path() const noexcept { return m_path; }
  /// The errno values process `pid` noted, smallest first.
  std::vector<int> failures(int pid) const;

 private:
  std::string m_path;
};

/// A running process whose threads this process traces (ptrace), to call functions of the
/// process on one of them (`measure attach`). While one exists, SIGINT, SIGTERM, SIGHUP and
/// SIGQUIT wait: a tracer that died in the middle of a call would leave the thread returning
/// nowhere. Destroying it lets every thread go on, with the signals the program received
/// meanwhile.
class Tracee {
 public:
  /// Traces every thread of process `pid` without stopping them. Throws UsageError when it
  /// cannot (no such process; no permission, with the reason: another user's process, the
  /// kernel's ptrace_scope, or a tracer already there).
  explicit Tracee(int pid);
  ~Tracee();
  Tracee(const Tracee&) = delete;
  Tracee& operator=(const Tracee&) = delete;

  /// Stops every thread (and any it started meanwhile). Throws ProcessGone when none is left.
  void stop_all();
  /// Lets every stopped thread but `except` go on.
  void resume(int except = 0);
  /// True when every thread was stopped while it waited in a system call.
  bool all_waiting() const;
  /// A stopped thread that can run the C library's loader: one waiting in a system call that
  /// is not part of taking or growing memory or of waiting for a lock, or running code
  /// outside the C library and the loader (the main thread first); 0 when none is.
  int safe_thread() const;

  /// A call argument: a number, or text copied onto the thread's stack (its address passed).
  struct Argument {
    std::uint64_t value = 0;
    std::optional<std::string> text;
  };
  /// Calls `function(arguments...)` on stopped thread `tid` and returns what it returned
  /// (its rax); the thread is stopped again afterwards, with its registers as before. Signals
  /// the program receives meanwhile are delivered later. Throws ProcessGone when the process
  /// ends, Error when the call faults (the thread is left as it was).
  std::uint64_t call(int tid, std::uintptr_t function, const std::vector<Argument>& arguments);
  /// The main thread when it is traced, else another; 0 when none is.
  int main_thread() const;
  /// The NUL-terminated text at `address` in the process, at most `limit` bytes.
  std::string read_string(std::uint64_t address, std::size_t limit = 4096);

 private:
  struct Thread;
  void seize_new_threads();
  bool wait_stop(Thread& t);
  Thread& thread(int tid);
  void write_memory(std::uint64_t address, const void* data, std::size_t size);
  void deliver_late_signals() noexcept;
  void release() noexcept;

  int m_pid;
  int m_memory;
  sigset_t m_old_signals{};
  std::vector<Thread> m_threads;
  std::vector<std::pair<int, int>> m_late_signals;  // (thread, signal) received during calls
};

/// The address, in process `pid`, of the function `name` that its first mapped module whose
/// path `module` accepts defines (read from the file's dynamic symbol table); 0 when none
/// does. Throws Error for a malformed file.
std::uintptr_t remote_function(int pid, const std::function<bool(const std::string&)>& module, const std::string& name);

}  // namespace measure::tools
