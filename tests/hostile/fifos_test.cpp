// Hostile files around symbolization: a module whose .gnu_debuglink names a FIFO, and a
// capture whose module path is a FIFO. Opening a FIFO to read waits for a writer that never
// comes; every tool that symbolizes (report, diff, symbolize, run) must finish and say what
// it did not read.
#include <filesystem>
#include <map>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "format/capture.h"
#include "support/checks.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::marker_line;
using measure::test::preload_path;
using measure::test::ProcessOptions;
using measure::test::ProcessResult;
using measure::test::run_process;
using measure::test::run_process_with;
using measure::test::TempDir;
using measure::test::tool_path;
namespace fs = std::filesystem;

namespace {

// A capture of `argv` written by the runtime alone (preloaded by hand): no symbols stored, so
// the tools read the module files to name its frames.
void record_by_hand(const std::vector<std::string>& argv, const std::string& capture) {
  ProcessResult r = run_process(argv, {{"LD_PRELOAD", preload_path()}, {"MEASURE_OUTPUT", capture}});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  REQUIRE(fs::is_regular_file(capture));
}

// Runs a tool with a time limit that turns a hang into a failure.
ProcessResult run_bounded(const std::vector<std::string>& argv) {
  ProcessOptions options;
  options.timeout_seconds = 60;
  ProcessResult r = run_process_with(argv, options);
  CHECK_MESSAGE(!r.timed_out, "hung: " << argv[1]);
  return r;
}

// The two_sites fixture split as distributions ship programs: a stripped copy in `dir` whose
// .gnu_debuglink names two_sites.debug, and the debug information in .debug/ beside it (the
// second place looked at). The first place, two_sites.debug beside it, is a FIFO.
std::string split_with_fifo_link(const TempDir& dir) {
  std::string module = dir.file("two_sites");
  std::string debug = dir.file("two_sites.debug");
  REQUIRE(run_process({"objcopy", "--only-keep-debug", fixture_path("two_sites"), debug}).status() == 0);
  REQUIRE(run_process({"objcopy", "--strip-debug", "--add-gnu-debuglink=" + debug, fixture_path("two_sites"), module})
              .status() == 0);
  fs::create_directory(dir.file(".debug"));
  fs::rename(debug, dir.file(".debug/two_sites.debug"));
  REQUIRE(::mkfifo(debug.c_str(), 0600) == 0);
  return module;
}

std::string fifo_warning(const std::string& fifo) {
  return "measure: warning: not read, as it is not a regular file (reading one could block): " + fifo + " (a FIFO)\n";
}

}  // namespace

TEST_CASE("hostile files: a debug link to a FIFO: report, diff, symbolize and run finish and name it") {
  TempDir dir;
  std::string module = split_with_fifo_link(dir);
  std::string fifo = dir.file("two_sites.debug");
  std::string capture = dir.file("c.msr");
  record_by_hand({module}, capture);

  ProcessResult report = run_bounded({tool_path(), "report", capture, "--top", "0", "--format", "json"});
  REQUIRE(report.status() == 0);
  CHECK(report.err == fifo_warning(fifo));
  // The search went on past the FIFO to .debug/: the frames have their source lines.
  std::map<int, std::uint64_t> by_line;
  nlohmann::json document = nlohmann::json::parse(report.out);
  for (const auto& row : document["rows"]) {
    if (row["key"]["file"].is_string() && fs::path(row["key"]["file"].get<std::string>()).filename() == "two_sites.c") {
      by_line[row["key"]["line"].get<int>()] = row["alloc_count"].get<std::uint64_t>();
    }
  }
  CHECK(by_line == std::map<int, std::uint64_t>{{marker_line("tests/fixtures/two_sites.c", "two_sites_a"), 65536},
                                                {marker_line("tests/fixtures/two_sites.c", "two_sites_b"), 65536}});

  ProcessResult diff = run_bounded({tool_path(), "diff", capture, capture});
  CHECK(diff.status() == 0);
  CHECK(diff.err == fifo_warning(fifo));

  ProcessResult symbolize = run_bounded({tool_path(), "symbolize", "-q", capture});
  CHECK(symbolize.status() == 0);
  CHECK(symbolize.err == fifo_warning(fifo));

  // measure run stores symbols after the run with the same symbolizer.
  ProcessResult run = run_bounded({tool_path(), "run", "-q", "-o", dir.file("run.msr"), "--", module});
  CHECK(run.status() == 0);
  CHECK(run.err == fifo_warning(fifo));
}

TEST_CASE("hostile files: a module path that is a FIFO is named, not opened") {
  TempDir dir;
  std::string capture = dir.file("c.msr");
  record_by_hand({fixture_path("two_sites")}, capture);
  measure::Capture c = measure::read_capture(capture);
  std::string fifo = dir.file("module-fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  int renamed = 0;
  for (measure::Module& m : c.modules) {
    if (m.path == fixture_path("two_sites")) {
      m.path = fifo;
      ++renamed;
    }
  }
  REQUIRE(renamed == 1);
  measure::write_capture(c, dir.file("fifo.msr"));

  ProcessResult report = run_bounded({tool_path(), "report", dir.file("fifo.msr")});
  REQUIRE(report.status() == 0);
  CHECK(report.err == fifo_warning(fifo));
  CHECK(report.out.find("1 module is missing on this machine") != std::string::npos);
  CHECK(fs::is_fifo(fifo));
}
