// The `measure` command's subcommands. Each registers its options on the CLI11 app and runs
// from its options struct; errors are thrown as measure::Error and turned into exit
// statuses in one place (main.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "report/report.h"

namespace CLI {
class App;
}

namespace measure {
struct Capture;
struct Report;
struct ReportOptions;
struct SymbolizerStats;
}  // namespace measure

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
  bool live = false;                 // the live view (show_live) while the program runs
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
/// The report options those give (UsageError for a bad value).
measure::ReportOptions row_options(const RowOptions& options);
/// When --include/--exclude left no row (`rows` is 0) of what `reports` hold, says so on
/// standard error, naming the include patterns that match no frame of any of them.
void warn_if_filtered_out(const RowOptions& options, std::size_t rows, std::initializer_list<const Report*> reports,
                          std::string_view what);

struct ReportOptions : RowOptions {
  std::vector<std::string> captures;  // more than one: added together (merge_captures)
  std::string scope;                  // --scope NAME: only what was allocated inside that named scope
  std::string from;                   // --from/--to TIME: only that stretch of the run
  std::string to;
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
  std::vector<std::string> fail_on;        // METRIC:LIMIT
  std::optional<double> fail_on_increase;  // percent
  std::uint64_t min_bytes = 0;
  std::string output;
};
void add_diff_command(CLI::App& app, DiffOptions& options);
/// Returns 1 when a gate failed, else 0.
int diff_command(const DiffOptions& options);

struct MergeOptions {
  std::vector<std::string> captures;
  std::string output;
};
void add_merge_command(CLI::App& app, MergeOptions& options);
int merge_command(const MergeOptions& options);
/// Reads the captures at `paths` (at once) and adds them together when there are several.
Capture read_captures(const std::vector<std::string>& paths);

struct SymbolizeOptions {
  std::vector<std::string> captures;
  bool quiet = false;
};
void add_symbolize_command(CLI::App& app, SymbolizeOptions& options);
int symbolize_command(const SymbolizeOptions& options);

struct DumpOptions {
  std::string pid;
  std::string output;  // empty: measure.NAME.PID.TIME.msr in the current directory
  bool quiet = false;
};
void add_dump_command(CLI::App& app, DumpOptions& options);
/// Asks a process `measure run` traces for its capture now (docs/integrations.md); the
/// program keeps running and recording. Throws Error when the process is not one or does
/// not answer.
int dump_command(const DumpOptions& options);

struct LiveOptions {
  std::string pid;
  std::string by = "line";
  double interval = 1.0;  // seconds between refreshes
  std::size_t top = 10;   // rows per refresh without a terminal
};
void add_live_command(CLI::App& app, LiveOptions& options);
/// Shows a process `measure run` traces until it ends or the user quits (docs/reports.md).
int live_command(const LiveOptions& options);

/// The live view's settings, checked (UsageError for a bad value).
struct LiveViewOptions {
  GroupBy by = GroupBy::line;
  double interval = 1.0;
  std::size_t top = 10;
};
LiveViewOptions live_view_options(const std::string& by, double interval, std::size_t top);
enum class LiveEnd { quit, ended, interrupted, stopped };
/// The live view of process `pid` (its status directory `directory`) until the process ends,
/// the user quits, or `stopped()` turns true. `measure live` draws on the terminal standard
/// output is on (else prints text per refresh) and also stops at SIGINT, SIGTERM and SIGHUP;
/// `run --live` (`on_free_terminal`) draws on the controlling terminal, which the program's
/// output must not be on, or not at all.
LiveEnd show_live(int pid, const std::string& directory, const LiveViewOptions& options,
                  const std::function<bool()>& stopped, bool on_free_terminal);

struct ImportOptions {
  std::string input;   // a heaptrack data file
  std::string output;  // the capture to write
};
void add_import_command(CLI::App& app, ImportOptions& options);
int import_command(const ImportOptions& options);

struct AttachOptions {
  std::string pid;
  std::string output;  // empty: measure.NAME.PID.msr in the current directory
  std::string mode = "exact";
  std::uint32_t depth = 64;
  std::string sample_interval;
  double duration = 0;  // seconds; 0: until Ctrl-C or `measure detach`
  bool quiet = false;
};
void add_attach_command(CLI::App& app, AttachOptions& options);
/// Records a running process from now until --duration, Ctrl-C or `measure detach`, then
/// writes its capture; the process goes on as before (docs/integrations.md).
int attach_command(const AttachOptions& options);

struct DetachOptions {
  std::string pid;
  bool quiet = false;
};
void add_detach_command(CLI::App& app, DetachOptions& options);
/// Ends the recording `measure attach` started in a process, and waits for its capture.
int detach_command(const DetachOptions& options);

/// libmeasure_preload.so beside this executable (or MEASURE_PRELOAD_LIBRARY). IoError when
/// it is not there.
std::string find_preload_library();
/// "peak X" for an exact capture, "peak at least X (sampled)" for the light modes, whose peak
/// is seen only at sample points: the summaries' words.
std::string peak_phrase(const Capture& capture);
/// A byte count as MEASURE_SAMPLE_INTERVAL takes it: digits, then K, M or G (binary units,
/// optionally followed by iB or B, any case), into `out`. False when it is not one.
bool parse_interval(const std::string& text, std::uint64_t* out);

/// Writes `text` to `path` atomically, or to standard output when `path` is empty.
void write_output(const std::string& path, const std::string& text);

/// One warning line naming the files the symbolizers did not read because they are not
/// regular files (a FIFO among a module's debug files); nothing when there were none.
void warn_not_regular_files(std::initializer_list<const SymbolizerStats*> stats);

}  // namespace measure::tools
