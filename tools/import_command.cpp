// `measure import HEAPTRACK_FILE -o CAPTURE`: a heaptrack recording as a measure capture, so
// `measure report` and `measure diff` work on recordings people already have.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "format/capture.h"
#include "import/heaptrack.h"
#include "report/formats.h"
#include "tools/cli.h"
#include "tools/progress.h"

namespace measure::tools {

void add_import_command(CLI::App& app, ImportOptions& o) {
  CLI::App* import = app.add_subcommand("import", "Convert a heaptrack recording into a capture for report and diff.");
  import
      ->add_option("heaptrack_file", o.input, "A heaptrack data file (heaptrack.PROGRAM.PID.zst, .gz or uncompressed)")
      ->required();
  import->add_option("-o,--output", o.output, "The capture file to write")->required();
  import->footer(
      "heaptrack's symbols (functions, files, lines, inlined frames) come along, so reports need neither\n"
      "the recorded binaries nor their debug information. docs/integrations.md explains how heaptrack's\n"
      "numbers map to measure's.\n\n"
      "Examples:\n"
      "  measure import heaptrack.server.4242.zst -o server.msr\n"
      "  measure report server.msr --by function --sort peak\n"
      "  measure import before.zst -o before.msr && measure import after.zst -o after.msr\n"
      "  measure diff before.msr after.msr --fail-on-increase 5");
}

int import_command(const ImportOptions& o) {
  Progress progress("measure import");
  progress.stage(fmt::format("reading {}", o.input));
  Capture capture =
      import_heaptrack(o.input, [&](std::uint64_t done, std::uint64_t total) { progress.fraction(done, total); });
  progress.stage(fmt::format("writing {}", o.output));
  write_capture(capture, o.output);
  progress.clear();
  const Metrics& t = capture.totals;
  fmt::print(stderr, "measure: imported {} allocations ({}) at {} call sites, peak {}; wrote {}\n",
             grouped(t.alloc_count), human_bytes(t.alloc_bytes), grouped(capture.sites.size()),
             human_bytes(t.peak_bytes), o.output);
  return 0;
}

}  // namespace measure::tools
