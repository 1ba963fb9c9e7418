// `measure dump PID [-o PATH]`: the capture of a process `measure run` traces, as it is now,
// without stopping the program or its recording. The request is a file in the run's status
// directory (MEASURE_STATUS_DIR, private to the user), which the runtime's background thread
// looks for ten times a second; it writes the capture where asked and answers with an empty
// file whose name holds the result.
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "format/capture.h"
#include "report/formats.h"
#include "support/error.h"
#include "symbols/stored_symbols.h"
#include "tools/cli.h"
#include "tools/process.h"

namespace measure::tools {
namespace {

constexpr auto answer_timeout = std::chrono::seconds(30);

int parse_pid(const std::string& text) {
  bool digits = !text.empty() && text.size() <= 9 && text.find_first_not_of("0123456789") == std::string::npos;
  int pid = digits ? std::stoi(text) : 0;
  if (pid <= 0) {
    throw UsageError(fmt::format("'{}' is not a process id", text));
  }
  return pid;
}

// The answer file's result, once there: 0 or an errno value.
std::optional<int> answer(const std::filesystem::path& directory, int pid) {
  std::error_code ec;
  std::string prefix = fmt::format("dump-{}.done-", pid);
  for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) {
      std::filesystem::remove(entry.path(), ec);
      return std::atoi(name.c_str() + prefix.size());
    }
  }
  return std::nullopt;
}

std::string default_output(int pid) {
  std::vector<std::string> files = executable_files(pid);
  std::string name = files.empty() ? "process" : std::filesystem::path(files.front()).filename().string();
  std::time_t now = std::time(nullptr);
  return fmt::format("measure.{}.{}.{:%Y%m%d-%H%M%S}.msr", name, pid, fmt::localtime(now));
}

}  // namespace

void add_dump_command(CLI::App& app, DumpOptions& o) {
  CLI::App* dump = app.add_subcommand(
      "dump", "Write the capture of a process 'measure run' traces, now, while it keeps running and recording.");
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
  if (!process_running(pid)) {
    throw UsageError(fmt::format("no process {}", pid));
  }
  std::vector<std::string> files = executable_files(pid);
  if (files.empty()) {
    throw UsageError(fmt::format("cannot read process {}'s mappings (another user's process?)", pid));
  }
  bool traced = std::any_of(files.begin(), files.end(),
                            [](const std::string& f) { return f.ends_with("/libmeasure_preload.so"); });
  std::string directory = started_environment_value(pid, "MEASURE_STATUS_DIR");
  if (!traced || directory.empty() || !std::filesystem::is_directory(directory)) {
    throw UsageError(
        fmt::format("process {} is not one 'measure run' traces; start it with 'measure run -- PROGRAM'", pid));
  }
  std::error_code ec;
  std::filesystem::path output = std::filesystem::absolute(o.output.empty() ? default_output(pid) : o.output, ec);
  if (ec) {
    throw UsageError(fmt::format("{}: {}", o.output, ec.message()));
  }
  (void)answer(directory, pid);  // a stale answer of an earlier dump that gave up

  // The request: written under another name, then renamed, so the runtime reads it whole.
  std::filesystem::path request = std::filesystem::path(directory) / fmt::format("dump-{}", pid);
  std::filesystem::path partial = std::filesystem::path(directory) / fmt::format(".dump-{}.{}", pid, ::getpid());
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out << output.string() << '\n';
    if (!out) {
      throw IoError(fmt::format("{}: cannot write the request: {}", partial.string(), std::strerror(errno)));
    }
  }
  std::filesystem::rename(partial, request, ec);
  if (ec) {
    std::filesystem::remove(partial, ec);
    throw IoError(fmt::format("{}: cannot write the request: {}", request.string(), ec.message()));
  }

  auto deadline = std::chrono::steady_clock::now() + answer_timeout;
  std::optional<int> status;
  while (!(status = answer(directory, pid))) {
    if (!process_running(pid) || std::chrono::steady_clock::now() > deadline) {
      std::filesystem::remove(request, ec);
      throw Error(process_running(pid) ? fmt::format("process {} did not answer within {} s", pid,
                                                     std::chrono::seconds(answer_timeout).count())
                                       : fmt::format("process {} ended before it wrote the capture", pid));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (*status != 0) {
    throw IoError(fmt::format("{}: process {} could not write it: {}", output.string(), pid, std::strerror(*status)));
  }

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
