// Starting the measured program and waiting for it (the only process control in the tools).
#pragma once

#include <chrono>
#include <functional>
#include <string>
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

/// A private directory (mode 0700, under $TMPDIR or /tmp) where the runtime notes why a
/// process could not write its capture (MEASURE_STATUS_DIR: an empty file PID.ERRNO per
/// failure). Removed with its notes when destroyed; path() is empty when none could be made.
class StatusDirectory {
 public:
  StatusDirectory();
  ~StatusDirectory();
  StatusDirectory(const StatusDirectory&) = delete;
  StatusDirectory& operator=(const StatusDirectory&) = delete;
  const std::string& path() const noexcept { return m_path; }
  /// The errno values process `pid` noted, smallest first.
  std::vector<int> failures(int pid) const;

 private:
  std::string m_path;
};

}  // namespace measure::tools
