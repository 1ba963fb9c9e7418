// `measure report`: read a capture, group its call sites and render the chosen view.
#include <algorithm>
#include <cmath>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

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

void warn_not_regular_files(std::initializer_list<const SymbolizerStats*> stats) {
  std::vector<std::string> files;
  for (const SymbolizerStats* s : stats) {
    for (const std::string& f : s->not_regular_files) {
      if (std::find(files.begin(), files.end(), f) == files.end()) {
        files.push_back(f);
      }
    }
  }
  if (!files.empty()) {
    fmt::print(stderr, "measure: warning: not read, as {} (reading one could block): {}\n",
               files.size() == 1 ? "it is not a regular file" : "they are not regular files", fmt::join(files, ", "));
  }
}

void add_row_options(CLI::App& command, RowOptions& o) {
  command.add_option("--by", o.by, "Group by stack, function, line, file, module or named scope (default line)")
      ->check(CLI::IsMember({"stack", "function", "line", "file", "module", "scope"}));
  command.add_option("--sort", o.sort, "Order by bytes, count, peak, leaked or temporary (default bytes)")
      ->check(CLI::IsMember({"bytes", "count", "peak", "leaked", "temporary"}));
  command.add_option("--top", o.top, "Rows to show; 0 shows all (default 10)")
      ->check(CLI::Validator(
          [](std::string& text) {
            bool digits = !text.empty() && text.size() <= 18 &&
                          std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
            return digits ? std::string() : fmt::format("'{}' is not a number of rows (0 or more; 0 shows all)", text);
          },
          "N"));
  command.add_option("--include", o.include,
                     "Keep only stacks with a frame matching this glob: a function (qualified or not, e.g. "
                     "'parse*' or 'ns::Parser::*'), a source file or a module; repeatable");
  command.add_option("--exclude", o.exclude, "Leave out stacks with a frame matching this glob; repeatable");
}

measure::ReportOptions row_options(const RowOptions& o) {
  measure::ReportOptions options;
  options.by = *parse_group_by(o.by);
  options.sort = *parse_sort_by(o.sort);
  options.top = o.top;
  options.include = o.include;
  options.exclude = o.exclude;
  return options;
}

void warn_if_filtered_out(const RowOptions& o, std::size_t rows, std::initializer_list<const Report*> reports,
                          std::string_view what) {
  bool any_site = false;
  for (const Report* r : reports) {
    any_site = any_site || !r->capture->sites.empty();
  }
  // Rows remain, no filter was given, or there was nothing to filter (counters mode).
  if (rows != 0 || (o.include.empty() && o.exclude.empty()) || !any_site) {
    return;
  }
  std::vector<std::string> unmatched;
  for (const std::string& pattern : o.include) {
    bool any = false;
    for (const Report* r : reports) {
      any = any ||
            std::any_of(r->frames.begin(), r->frames.end(), [&](const Frame& f) { return frame_matches(f, pattern); });
    }
    if (!any) {
      unmatched.push_back(fmt::format("'{}'", pattern));
    }
  }
  std::string why = unmatched.empty() ? std::string("--exclude left out every stack the --include patterns kept")
                                      : fmt::format("--include {} matched no frame", fmt::join(unmatched, ", "));
  fmt::print(stderr,
             "measure: warning: {} shows no call site: {} (patterns match a function's name, qualified or not, a "
             "source file or a module)\n",
             what, why);
}

void add_report_command(CLI::App& app, ReportOptions& o) {
  CLI::App* report = app.add_subcommand("report", "Show where a captured program allocated, as a top-N table.");
  report
      ->add_option("captures", o.captures,
                   "Capture files written by 'measure run'; several are added together (the processes of "
                   "--follow-forks, repeated runs)")
      ->required();
  add_row_options(*report, o);
  report->add_flag("--cumulative", o.cumulative, "Credit every frame of a stack, not only the allocating one");
  report->add_option("--scope", o.scope,
                     "Only what was allocated and freed inside this named scope (measure::Scope), over all its "
                     "entries");
  report->add_option("--from", o.from,
                     "Only what was allocated and freed from this time on (since the start of recording: 1.5, "
                     "1.5s, 250ms, 40us), in whole intervals of the capture; live: at the range's highest point");
  report->add_option("--to", o.to, "Only what was allocated and freed up to this time (as --from)");
  report
      ->add_option(
          "--format", o.format,
          "text, json, csv, markdown, folded (collapsed stacks), svg (interactive flame graph), pprof "
          "(gzip-compressed profile.proto), timeline-svg (live bytes and RSS over time) or html (one interactive "
          "page: flame graph, trees, callers, table) (default text)")
      ->check(CLI::IsMember(report_format_names()));
  report->add_option("-o,--output", o.output, "Write to this file instead of standard output");
  report->footer(
      "Examples:\n"
      "  measure report app.msr                         top 10 lines by bytes allocated\n"
      "  measure report app.msr --by function --sort peak\n"
      "  measure report app.msr --sort leaked --include 'parse*' --top 0\n"
      "  measure report app.msr --format json -o report.json\n"
      "  measure report app.msr --format summary        sizes, lifetimes, threads, largest blocks, modules\n"
      "  measure report app.msr --by scope              named scopes: entries and costs per entry\n"
      "  measure report app.msr --scope parse           the call sites inside the scope 'parse'\n"
      "  measure report app.msr --from 2s --to 2.5s     what was allocated in that half second\n"
      "  measure report app.msr --format html -o app.html   open in any browser\n"
      "  measure report app.msr --format svg -o flame.svg   open in any browser\n"
      "  measure report app.msr --format timeline-svg -o timeline.svg   memory over time, peak marked\n"
      "  measure report app.msr --format pprof -o app.pb.gz  pprof -http=: app.pb.gz\n"
      "  measure report measure.make.*.msr              every process of a --follow-forks run, as one");
}

// A time since the start of recording: seconds, or a number with s, ms, us or ns.
std::uint64_t parse_time_ns(const std::string& text, std::string_view option) {
  static constexpr std::pair<std::string_view, double> units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
  std::string_view number = text;
  double scale = 1e9;
  for (const auto& [suffix, ns] : units) {
    if (number.size() > suffix.size() && number.ends_with(suffix)) {
      number.remove_suffix(suffix.size());
      scale = ns;
      break;
    }
  }
  bool digits = !number.empty() && number.size() < 32 &&
                std::all_of(number.begin(), number.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }) &&
                std::count(number.begin(), number.end(), '.') <= 1 && number != ".";
  double value = digits ? std::stod(std::string(number)) * scale : -1;
  if (!digits || value > 9.2e18) {
    throw UsageError(
        fmt::format("{} '{}': not a time since the start of recording (seconds, such as 1.5, or 1.5s, "
                    "250ms, 40us, 100ns)",
                    option, text));
  }
  return static_cast<std::uint64_t>(std::llround(value));
}

int report_command(const ReportOptions& o) {
  measure::ReportOptions options = row_options(o);
  options.cumulative = o.cumulative;
  Progress progress("measure report");
  progress.stage(o.captures.size() == 1 ? fmt::format("reading {}", o.captures.front())
                                        : fmt::format("reading {} captures", o.captures.size()));
  Capture capture = read_captures(o.captures);
  if (!o.scope.empty() && (!o.from.empty() || !o.to.empty())) {
    throw UsageError("--scope and --from/--to cannot be combined (scopes keep no intervals of time)");
  }
  if (!o.scope.empty()) {
    capture = restrict_to_scope(capture, o.scope);
    options.scope = o.scope;
  }
  if (!o.from.empty() || !o.to.empty()) {
    if (o.format == "summary") {
      throw UsageError("--format summary describes the whole run: leave out --from and --to");
    }
    std::uint64_t from = o.from.empty() ? 0 : parse_time_ns(o.from, "--from");
    std::uint64_t to = o.to.empty() ? UINT64_MAX : parse_time_ns(o.to, "--to");
    options.range = time_range(capture, from, to);
    capture = restrict_to_time(capture, *options.range);
  }
  progress.stage(analysis_stage({&capture}));
  options.modules = shows_summary(*parse_report_format(o.format));
  Report report = build_report(capture, options);
  progress.stage(fmt::format("writing the {} report", o.format));
  std::string text = render_report(report, *parse_report_format(o.format));
  progress.clear();
  warn_not_regular_files({&report.symbols});
  warn_if_filtered_out(o, report.rows.size(), {&report}, "the report");
  write_output(o.output, text);
  return 0;
}

}  // namespace measure::tools
