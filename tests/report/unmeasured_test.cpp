// What a mode does not measure is never shown as a measurement: "—" in text, markdown, csv
// and the flame graph's tooltips, null in JSON, and an error (exit 2) to sort or gate by; and a
// capture written at a checkpoint is labelled partial.
#include <filesystem>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support/checks.h"
#include "support/subprocess.h"

using measure::test::check_one_line_error;
using measure::test::fixture_path;
using measure::test::ProcessResult;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
using nlohmann::json;

namespace {

// alloc_c under `mode`; sampled mode samples every block (an interval of one byte), so its
// rows are the exact mode's call sites.
std::string capture(const TempDir& dir, const std::string& mode) {
  std::string path = dir.file(mode + ".msr");
  std::vector<std::string> argv = {tool_path(), "run", "-q", "--mode", mode, "-o", path};
  if (mode == "sampled") {
    argv.insert(argv.end(), {"--sample-interval", "1"});
  }
  argv.insert(argv.end(), {"--", fixture_path("alloc_c")});
  ProcessResult r = run_process(argv);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return path;
}

ProcessResult report(const std::string& path, std::vector<std::string> args) {
  args.insert(args.begin(), {tool_path(), "report", path, "--top", "0"});
  return run_process(args);
}

std::string out_of(const ProcessResult& r) {
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return r.out;
}

}  // namespace

TEST_CASE("every format shows what a mode does not measure as unknown, never as 0") {
  TempDir dir;
  const std::vector<std::string> metrics = {"alloc_count", "alloc_bytes", "free_count", "freed_bytes",
                                            "live_count",  "live_bytes",  "peak_bytes", "temporary_count"};
  for (const char* mode : {"exact", "sampled", "counters"}) {
    CAPTURE(mode);
    std::string path = capture(dir, mode);
    bool exact = std::string(mode) == "exact";
    bool sampled = std::string(mode) == "sampled";

    json j = json::parse(out_of(report(path, {"--format", "json"})));
    for (const std::string& m : metrics) {
      CAPTURE(m);
      bool unknown_total = !exact && m == "temporary_count";
      CHECK(j["totals"][m].is_null() == unknown_total);
      for (const json& row : j["rows"]) {
        bool unknown_row = !exact && (m == "temporary_count" || m == "peak_bytes");
        CHECK(row[m].is_null() == unknown_row);
      }
    }
    CHECK(j["rows"].empty() == (std::string(mode) == "counters"));

    std::string text = out_of(report(path, {}));
    std::string markdown = out_of(report(path, {"--format", "markdown"}));
    std::string csv = out_of(report(path, {"--format", "csv"}));
    if (exact) {
      CHECK(text.find("—  ") == std::string::npos);
      CHECK(markdown.find("| — |") == std::string::npos);
      CHECK(csv.find("—") == std::string::npos);
      CHECK(text.find("5 temporary allocations") != std::string::npos);
    } else {
      CHECK(text.find("temporaries not measured in this mode") != std::string::npos);
      CHECK(markdown.find("temporaries not measured in this mode") != std::string::npos);
    }
    if (sampled) {
      // Each row: peak and temp are "—" (two of them per table line), in every table format.
      std::size_t rows = j["rows"].size();
      REQUIRE(rows > 0);
      std::size_t dashes = 0;
      for (std::size_t at = csv.find(",—,—,"); at != std::string::npos; at = csv.find(",—,—,", at + 1)) {
        ++dashes;
      }
      CHECK(dashes == rows);
      std::size_t cells = 0;
      for (std::size_t at = markdown.find("| — |"); at != std::string::npos; at = markdown.find("| — |", at + 1)) {
        ++cells;
      }
      CHECK(cells == 2 * rows);  // the peak's cell and the temporaries' cell
      std::string svg = out_of(report(path, {"--format", "svg"}));
      CHECK(svg.find("peak_bytes —") != std::string::npos);
      CHECK(svg.find("temporary_count —") != std::string::npos);
      CHECK(svg.find("peak_bytes 0") == std::string::npos);
    }
    if (!exact) {
      // Sorting or gating by what was not measured is an error that says why.
      for (const char* format : {"text", "folded", "pprof", "svg"}) {
        check_one_line_error(report(path, {"--sort", "temporary", "--format", format}), "exact mode does");
      }
      check_one_line_error(run_process({tool_path(), "diff", path, path, "--fail-on", "temporary_count:0"}),
                           "temporary_count is not measured in " + std::string(mode) + " mode");
    }
    if (sampled) {
      check_one_line_error(report(path, {"--sort", "peak"}), "does not measure it per call site");
      check_one_line_error(run_process({tool_path(), "diff", path, path, "--sort", "peak"}), "per call site");
    }
  }
}

TEST_CASE("a program killed by SIGKILL: its capture is labelled partial everywhere") {
  TempDir dir;
  std::string path = dir.file("k.msr");
  // Only this run's program: $$ is the shell that becomes `measure run`, its parent.
  std::string script = "(sleep 1.5; pkill -KILL -P $$ -x exit_paths) & exec " + tool_path() + " run -q -o " + path +
                       " -- " + fixture_path("exit_paths") + " sleep";
  ProcessResult r = run_process({"bash", "-c", script}, {{"MEASURE_CHECKPOINT_INTERVAL", "0.2"}});
  CHECK(r.status() == 128 + 9);
  // Said even with -q: a partial capture must never pass for a whole one.
  CHECK(r.err.find("measure: partial capture: the program was killed by signal 9; this is its last checkpoint") == 0);
  CHECK(r.err.find("blocks (") != std::string::npos);
  CHECK(r.err.find("live\n") != std::string::npos);
  CHECK(r.err.find("still live at exit") == std::string::npos);

  std::string text = out_of(report(path, {}));
  CHECK(text.find("killed by signal 9") != std::string::npos);
  CHECK(text.find("(partial: see the note below)") != std::string::npos);
  CHECK(text.find("Note: partial capture: the program was killed by signal 9") != std::string::npos);
  CHECK(text.find("live at the checkpoint") != std::string::npos);
  CHECK(text.find("leaked") == std::string::npos);
  std::string leaked = out_of(report(path, {"--sort", "leaked"}));
  CHECK(leaked.find("by bytes live at the checkpoint") != std::string::npos);
  json j = json::parse(out_of(report(path, {"--format", "json"})));
  CHECK(j["partial"] == true);
  CHECK(j["program"]["signal"] == 9);
  std::string markdown = out_of(report(path, {"--format", "markdown"}));
  CHECK(markdown.find("partial capture") != std::string::npos);
}
