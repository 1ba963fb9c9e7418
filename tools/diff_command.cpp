// `measure diff OLD NEW`: compare two captures per call site, print what grew and shrank, and
// exit 1 when a gate fails so CI can stop allocation regressions.
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
  diff->add_option("--format", o.format,
                   "text, json, markdown or html (an interactive page: differential flame graph, table, verdict) "
                   "(default text)")
      ->check(CLI::IsMember({"text", "json", "markdown", "html"}));
  diff->add_option("--fail-on", o.fail_on,
                   "Exit 1 when METRIC:LIMIT fails on the totals or on any row. METRIC: alloc_count, alloc_bytes, "
                   "free_count, freed_bytes, live_count, live_bytes, peak_bytes, temporary_count. LIMIT: N% (may "
                   "grow by at most N percent), +N (by at most N), N (may not exceed N); bytes take K, M, G. "
                   "Repeatable");
  diff->add_option("--fail-on-increase", o.fail_on_increase,
                   "The same as --fail-on alloc_bytes:PERCENT% --fail-on alloc_count:PERCENT%");
  diff->add_option("--min-bytes", o.min_bytes,
                   "Percentage gates ignore growth of fewer than N bytes (for counts: bytes allocated) (default 0)");
  diff->add_option("-o,--output", o.output, "Write to this file instead of standard output");
  diff->footer(
      "Exit status: 0, or 1 when a gate failed; 2 for bad input.\n"
      "Examples:\n"
      "  measure diff before.msr after.msr                       top 10 changes per line\n"
      "  measure diff before.msr after.msr --fail-on peak_bytes:5% --fail-on live_bytes:0\n"
      "  measure diff before.msr after.msr --by function --fail-on alloc_count:+1000\n"
      "  measure diff before.msr after.msr --format markdown -o comment.md\n"
      "  measure diff before.msr after.msr --format html -o diff.html");
}

int diff_command(const DiffOptions& o) {
  measure::ReportOptions rows = row_options(o);
  measure::DiffOptions options;
  options.by = rows.by;
  options.sort = rows.sort;
  options.top = rows.top;
  options.include = rows.include;
  options.exclude = rows.exclude;
  for (const std::string& text : o.fail_on) {
    options.gates.push_back(parse_gate(text));
    options.gates.back().min_bytes = o.min_bytes;
  }
  if (o.fail_on_increase) {
    for (Gate& gate : fail_on_increase_gates(*o.fail_on_increase, o.min_bytes)) {
      options.gates.push_back(std::move(gate));
    }
  }
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
  warn_not_regular_files({&diff.old_report.symbols, &diff.new_report.symbols});
  warn_if_filtered_out(o, diff.rows.size(), {&diff.old_report, &diff.new_report}, "the diff");
  write_output(o.output, text);
  return diff.regressed ? 1 : 0;
}

}  // namespace measure::tools
