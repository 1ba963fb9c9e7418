// `measure dump PID [-o PATH]`: the capture of a process `measure run` traces, as it is now,
// without stopping the program or its recording (the channel: tools/dump_request.h).
#include <chrono>
#include <ctime>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "format/capture.h"
#include "report/formats.h"
#include "support/error.h"
#include "symbols/stored_symbols.h"
#include "tools/cli.h"
#include "tools/dump_request.h"
#include "tools/process.h"

namespace measure::tools {
namespace {

constexpr auto answer_timeout = std::chrono::seconds(30);

std::string default_output(int pid) {
  std::time_t now = std::time(nullptr);
  return fmt::format("measure.{}.{}.{:%Y%m%d-%H%M%S}.msr", program_name(pid), pid, fmt::localtime(now));
}

}  // namespace

void add_dump_command(CLI::App& app, DumpOptions& o) {
  CLI::App* dump = app.add_subcommand(
      "dump",
      "Write the capture of a process 'measure run' traces (or 'measure attach' records), now, while it keeps running "
      "and recording.");
  dump->add_option("pid", o.pid, "The process (its id)")->required();
  dump->add_option("-o,--output", o.output, "Where the capture goes (default: measure.NAME.PID.TIME.msr)");
  dump->add_flag("-q,--quiet", o.quiet, "Print nothing unless the dump fails");
  dump->footer(
      "Two dumps diff like any two captures: what grew between them.\n\n"
      "Examples:\n"
      "  measure run -o server.msr -- ./server &\n"
      "  measure dump $(pidof server) -o before.msr; sleep 3600; measure dump $(pidof server) -o after.msr\n"
      "  measure diff before.msr after.msr          what grew in the last hour");
}

int dump_command(const DumpOptions& o) {
  int pid = parse_pid(o.pid);
  std::string directory = traced_status_directory(pid);
  std::error_code ec;
  std::filesystem::path output = std::filesystem::absolute(o.output.empty() ? default_output(pid) : o.output, ec);
  if (ec) {
    throw UsageError(fmt::format("{}: {}", o.output, ec.message()));
  }
  request_dump(pid, directory, output, answer_timeout);

  // Its symbols, while the modules it ran are still the files on disk.
  Capture capture = read_capture(output.string());
  StoreSymbolsResult symbols = store_symbols(capture);
  if (symbols.offsets_added != 0) {
    write_capture(capture, output.string());
  }
  if (!o.quiet) {
    fmt::print(stderr, "measure: wrote {} (process {}: {} live in {}, {} allocated so far)\n", output.string(), pid,
               human_bytes(capture.totals.live_bytes), plural(capture.totals.live_count, "block", "blocks"),
               human_bytes(capture.totals.alloc_bytes));
  }
  return 0;
}

}  // namespace measure::tools
