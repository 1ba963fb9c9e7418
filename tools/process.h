// Starting the measured program and waiting for it (the only process control in the tools).
#pragma once

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
/// program cannot be executed (not found, not executable, exec failed).
ChildResult run_child(const std::vector<std::string>& argv,
                      const std::vector<std::pair<std::string, std::string>>& environment);

/// The path execvp would run for `program`, or "" when none is found.
std::string find_in_path(const std::string& program);

/// The directory of the running `measure` executable.
std::string own_directory();


}  // namespace measure::tools
