// `measure diff OLD NEW`: compare two captures per call site, print what grew and shrank, and
// exit 1 past a threshold so CI can gate on allocation regressions.
#include <future>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "diff/diff.h"
#include "format/capture.h"
#include "tools/cli.h"
#include "tools/progress.h"

namespace measure::tools {

void add_diff_command(CLI::App& app, DiffOptions& o) {
  CLI::App* diff = app.add_subcommand("diff", "Compare two captures per call site: what grew, what shrank.");
  diff->add_option("old", o.old_capture, "The capture before the change")->required();
  diff->add_option("new", o.new_capture, "The capture after the change")->required();
  add_row_options(*diff, o);
  diff->add_option("--format", o.format, "text, json or markdown (default text)")
      ->check(CLI::IsMember({"text", "json", "markdown"}));
  diff->add_option("--fail-on-increase", o.fail_on_increase,
                   "Exit 1 when any row's (or the totals') bytes or blocks allocated grew by more than PERCENT");
  diff->add_option("--min-bytes", o.min_bytes,
                   "With --fail-on-increase: ignore growth of fewer than N bytes allocated (default 0)");
  diff->add_option("-o,--output", o.output, "Write to this file instead of standard output");
  diff->footer(
      "Exit status: 0, or 1 when --fail-on-increase is given and the threshold was crossed; 2 for bad input.\n"
      "Examples:\n"
      "  measure diff before.msr after.msr                       top 10 changes per line\n"
      "  measure diff before.msr after.msr --by function --fail-on-increase 5 --min-bytes 4096\n"
      "  measure diff before.msr after.msr --format markdown -o comment.md");
}

int diff_command(const DiffOptions& o) {
  measure::DiffOptions options;
  options.by = *parse_group_by(o.by);
  options.sort = *parse_sort_by(o.sort);
  options.top = o.top;
  options.include = o.include;
  options.exclude = o.exclude;
  options.fail_on_increase = o.fail_on_increase;
  options.min_bytes = o.min_bytes;
  Progress progress("measure diff");
  progress.stage(fmt::format("reading {} and {}", o.old_capture, o.new_capture));
  // Both files at once; an error in either is rethrown here, on the main thread.
  std::future<Capture> reading = std::async(std::launch::async, [&] { return read_capture(o.old_capture); });
  Capture after = read_capture(o.new_capture);
  Capture before = reading.get();
  progress.stage(analysis_stage({&before, &after}));
  Diff diff = build_diff(before, after, options);
  std::string text = render_diff(diff, *parse_diff_format(o.format));
  progress.clear();
  write_output(o.output, text);
  return diff.regressed ? 1 : 0;
}

}  // namespace measure::tools
