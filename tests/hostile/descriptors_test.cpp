// A program that uses every descriptor it may have, and exits with them open: its capture
// is still written, complete, and the program could open exactly as many as the runtime
// leaves it (writing the capture takes none of the program's descriptors).
#include <algorithm>
#include <filesystem>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "format/capture.h"
#include "support/checks.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::marker_line;
using measure::test::ProcessResult;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
namespace fs = std::filesystem;

TEST_CASE("hostile limits: a program that uses every descriptor still leaves a complete capture") {
  TempDir dir;
  // No background thread: its short-lived descriptors would make the counts vary.
  std::vector<std::pair<std::string, std::string>> quiet_runtime = {{"MEASURE_TIMELINE", "0"},
                                                                    {"MEASURE_CHECKPOINT_INTERVAL", "0"}};
  auto opened = [](const std::string& out) { return out.rfind("opened ", 0) == 0 ? std::stol(out.substr(7)) : -1; };
  ProcessResult native = run_process({fixture_path("descriptors")});
  REQUIRE(native.status() == 0);
  CHECK(native.out.find(" descriptors, then: too many open files\n") != std::string::npos);
  ProcessResult measured = run_process(
      {tool_path(), "run", "-q", "-o", dir.file("d.msr"), "--", fixture_path("descriptors")}, quiet_runtime);
  CHECK(measured.status() == 0);
  // The runtime holds none of the numbers the program may use, and writing the capture took
  // none of them.
  CHECK(opened(measured.out) == opened(native.out));
  CHECK(measured.out.substr(measured.out.find(' ', 7)) == native.out.substr(native.out.find(' ', 7)));
  CHECK(measured.err.empty());
  REQUIRE(fs::exists(dir.file("d.msr")));
  measure::Capture c = measure::read_capture(dir.file("d.msr"));
  CHECK((c.program.flags & 1) == 1);  // final
  CHECK(c.program.arguments == std::vector<std::string>{fixture_path("descriptors")});
  CHECK(c.program.pid != 0);
  CHECK(c.resident_bytes > 0);
  REQUIRE(c.program.exit.has_value());
  CHECK(c.program.exit->status == 0);
  // The kept blocks, at their line.
  ProcessResult report = run_process({tool_path(), "report", dir.file("d.msr"), "--top", "0", "--format", "json"});
  REQUIRE(report.status() == 0);
  int line = marker_line("tests/hostile/descriptors.c", "descriptors_kept");
  int rows = 0;
  nlohmann::json document = nlohmann::json::parse(report.out);
  for (const nlohmann::json& row : document["rows"]) {
    if (row["key"]["line"] == line) {
      ++rows;
      CHECK(row["live_count"] == 3);
      CHECK(row["live_bytes"] == 300);
    }
  }
  CHECK(rows == 1);
}
