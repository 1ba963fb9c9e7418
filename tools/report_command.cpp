// `measure report`: read a capture, group its call sites and render the chosen view.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "format/capture.h"
#include "report/formats.h"
#include "support/error.h"
#include "tools/cli.h"
#include "tools/progress.h"

namespace measure::tools {

void write_output(const std::string& path, const std::string& text) {
  if (path.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return;
  }
  write_file_atomically(path, std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
}

void add_row_options(CLI::App& command, RowOptions& o) {
  command.add_option("--by", o.by, "Group by stack, function, line, file, module or named scope (default line)")
      ->check(CLI::IsMember({"stack", "function", "line", "file", "module", "scope"}));
  command.add_option("--sort", o.sort, "Order by bytes, count, peak, leaked or temporary (default bytes)")
      ->check(CLI::IsMember({"bytes", "count", "peak", "leaked", "temporary"}));
  command.add_option("--top", o.top, "Rows to show; 0 shows all (default 10)");
  command.add_option("--include", o.include,
                     "Keep only stacks with a frame matching this glob (function, file, or module); repeatable");
  command.add_option("--exclude", o.exclude, "Leave out stacks with a frame matching this glob; repeatable");
}

void add_report_command(CLI::App& app, ReportOptions& o) {
  CLI::App* report = app.add_subcommand("report", "Show where a captured program allocated, as a top-N table.");
  report->add_option("capture", o.capture, "Capture file written by 'measure run'")->required();
  add_row_options(*report, o);
  report->add_flag("--cumulative", o.cumulative, "Credit every frame of a stack, not only the allocating one");
  report->add_option("--scope", o.scope,
                     "Only what was allocated and freed inside this named scope (measure::Scope), over all its "
                     "entries");
  report
      ->add_option("--format", o.format,
                   "text, json, csv, markdown, folded (collapsed stacks), svg (interactive flame graph), pprof "
                   "(gzip-compressed profile.proto) or timeline-svg (live bytes and RSS over time) (default text)")
      ->check(CLI::IsMember(report_format_names()));
  report->add_option("-o,--output", o.output, "Write to this file instead of standard output");
  report->footer(
      "Examples:\n"
      "  measure report app.msr                         top 10 lines by bytes allocated\n"
      "  measure report app.msr --by function --sort peak\n"
      "  measure report app.msr --sort leaked --include 'parse*' --top 0\n"
      "  measure report app.msr --format json -o report.json\n"
      "  measure report app.msr --by scope              named scopes: entries and costs per entry\n"
      "  measure report app.msr --scope parse           the call sites inside the scope 'parse'\n"
      "  measure report app.msr --format svg -o flame.svg   open in any browser\n"
      "  measure report app.msr --format timeline-svg -o timeline.svg   memory over time, peak marked\n"
      "  measure report app.msr --format pprof -o app.pb.gz  pprof -http=: app.pb.gz");
}

int report_command(const ReportOptions& o) {
  measure::ReportOptions options;
  options.by = *parse_group_by(o.by);
  options.sort = *parse_sort_by(o.sort);
  options.top = o.top;
  options.include = o.include;
  options.exclude = o.exclude;
  options.cumulative = o.cumulative;
  Progress progress("measure report");
  progress.stage(fmt::format("reading {}", o.capture));
  Capture capture = read_capture(o.capture);
  if (!o.scope.empty()) {
    capture = restrict_to_scope(capture, o.scope);
    options.scope = o.scope;
  }
  progress.stage(analysis_stage({&capture}));
  Report report = build_report(capture, options);
  progress.stage(fmt::format("writing the {} report", o.format));
  std::string text = render_report(report, *parse_report_format(o.format));
  progress.clear();
  write_output(o.output, text);
  return 0;
}

}  // namespace measure::tools
