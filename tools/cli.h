// The `measure` command's subcommands. Each registers its options on the CLI11 app and runs
// from its options struct; errors are thrown as measure::Error and turned into exit
// statuses in one place (main.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace measure::tools {

struct RunOptions {
  std::string output;
  std::string mode = "exact";
  std::uint32_t depth = 64;
  std::string sample_interval;
  bool follow_forks = false;
  bool follow_exec = false;
  bool no_deepbind = false;
  bool quiet = false;
  std::vector<std::string> command;  // PROGRAM ARGS...
};
void add_run_command(CLI::App& app, RunOptions& options);
/// Returns the program's exit status (128+N when it died of signal N).
int run_command(const RunOptions& options);

/// The options report and diff share: grouping, order, rows shown and filters.
struct RowOptions {
  std::string by = "line";
  std::string sort = "bytes";
  std::size_t top = 10;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
};
/// Registers --by, --sort, --top, --include and --exclude on `command`.
void add_row_options(CLI::App& command, RowOptions& options);

struct ReportOptions : RowOptions {
  std::string capture;
  std::string scope;  // --scope NAME: only what was allocated inside that named scope
  bool cumulative = false;
  std::string format = "text";
  std::string output;
};
void add_report_command(CLI::App& app, ReportOptions& options);
int report_command(const ReportOptions& options);

struct DiffOptions : RowOptions {
  std::string old_capture;
  std::string new_capture;
  std::string format = "text";
  std::optional<double> fail_on_increase;  // percent
  std::uint64_t min_bytes = 0;
  std::string output;
};
void add_diff_command(CLI::App& app, DiffOptions& options);
/// Returns 1 when --fail-on-increase was given and crossed, else 0.
int diff_command(const DiffOptions& options);

struct ImportOptions {
  std::string input;   // a heaptrack data file
  std::string output;  // the capture to write
};
void add_import_command(CLI::App& app, ImportOptions& options);
int import_command(const ImportOptions& options);

/// Writes `text` to `path` atomically, or to standard output when `path` is empty.
void write_output(const std::string& path, const std::string& text);

}  // namespace measure::tools
