// `measure merge -o ALL CAPTURE...`: captures added together into one file (the processes of
// --follow-forks and --follow-exec, repeated runs of a test), which reports and diffs like
// any capture.
#include <future>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "format/capture.h"
#include "format/merge.h"
#include "report/formats.h"
#include "tools/cli.h"
#include "tools/progress.h"

namespace measure::tools {

Capture read_captures(const std::vector<std::string>& paths) {
  if (paths.size() == 1) {
    return read_capture(paths.front());
  }
  // Two readers at a time (the machines this runs on in CI have two cores); an error in any
  // file is rethrown here, naming it.
  std::vector<Capture> parts(paths.size());
  for (std::size_t i = 0; i < paths.size(); i += 2) {
    std::future<Capture> other;
    if (i + 1 < paths.size()) {
      other = std::async(std::launch::async, [&, i] { return read_capture(paths[i + 1]); });
    }
    parts[i] = read_capture(paths[i]);
    if (other.valid()) {
      parts[i + 1] = other.get();
    }
  }
  return merge_captures(parts, paths);
}

void add_merge_command(CLI::App& app, MergeOptions& o) {
  CLI::App* merge =
      app.add_subcommand("merge", "Add captures together into one (processes of one run, repeated runs).");
  merge->add_option("captures", o.captures, "The captures to add together")->required();
  merge->add_option("-o,--output", o.output, "The capture file to write")->required();
  merge->footer(
      "Metrics are summed per call site, matched by symbols, so the same call site in two processes or two\n"
      "builds is one row. The peak is the sum of the parts' peaks (an upper bound when they ran at once).\n"
      "The captures must be of the same mode.\n\n"
      "Examples:\n"
      "  measure run --follow-forks -o 'make.%p.msr' -- make -j2 && measure merge -o make.msr make.*.msr\n"
      "  measure merge -o before.msr run1.msr run2.msr run3.msr");
}

int merge_command(const MergeOptions& o) {
  Progress progress("measure merge");
  progress.stage(fmt::format("reading {} captures", o.captures.size()));
  Capture merged = read_captures(o.captures);
  progress.stage(fmt::format("writing {}", o.output));
  write_capture(merged, o.output);
  progress.clear();
  const Metrics& t = merged.totals;
  fmt::print(stderr, "measure: merged {} ({} allocations, {}; {} call stacks); wrote {}\n",
             plural(std::max<std::uint64_t>(merged.diagnostic("merged_captures"), 1), "capture", "captures"),
             grouped(t.alloc_count), human_bytes(t.alloc_bytes), grouped(merged.sites.size()), o.output);
  return 0;
}

}  // namespace measure::tools
