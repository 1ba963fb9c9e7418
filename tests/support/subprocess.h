// Running real programs from tests: the measure tool, fixtures under the preload, native
// baselines. Captures standard output and standard error separately.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace measure::test {

struct ProcessResult {
  std::string out;
  std::string err;
  int exit_code = -1;  // valid when signal == 0
  int signal = 0;
  bool timed_out = false;  // killed (with its whole process group) when its time ran out
  /// As a shell reports it: the exit code, or 128+signal.
  int status() const noexcept { return signal != 0 ? 128 + signal : exit_code; }
};

/// Runs `argv` (argv[0] a path or a name in PATH) with `env` added to the environment and
/// `unset` removed from it, in `directory` (empty: the current one), and waits for it.
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::vector<std::pair<std::string, std::string>>& env = {},
                          const std::string& directory = {}, const std::vector<std::string>& unset = {});

/// How run_process_with starts and bounds a process.
struct ProcessOptions {
  std::vector<std::pair<std::string, std::string>> env;  // added to the environment
  std::string directory;                                 // empty: the current one
  std::vector<std::string> unset;                        // removed from the environment
  /// Written to standard input through a pipe; unset: standard input is /dev/null.
  std::optional<std::string> input;
  /// > 0: after this many seconds the process and everything it started in its process group
  /// are killed with SIGKILL and the result says timed_out. A descendant that left the group
  /// and keeps the output pipes open is abandoned a few seconds later: never an endless wait.
  double timeout_seconds = 0;
  /// > 0: the process's address-space limit (RLIMIT_AS, as `ulimit -v` sets it, in bytes), set
  /// before exec; what it starts inherits it.
  std::uint64_t address_space_limit = 0;
};

/// As run_process, with standard input and a time limit.
ProcessResult run_process_with(const std::vector<std::string>& argv, const ProcessOptions& options);

/// A fresh directory under the build tree's temporary area, removed when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const noexcept { return m_path; }
  std::string file(const std::string& name) const { return m_path + "/" + name; }

 private:
  std::string m_path;
};

/// The process id a fixture wrote to `path` (a number and a newline), once it has; 0 when no
/// id is there within `seconds`.
int wait_for_pid_file(const std::string& path, double seconds = 10);

std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& text);

/// Paths of the build, from CMake.
std::string tool_path();     // build/bin/measure
std::string preload_path();  // build/lib/libmeasure_preload.so, for runs preloaded by hand
std::string fixture_path(const std::string& name);
std::string source_path(const std::string& relative);

}  // namespace measure::test
