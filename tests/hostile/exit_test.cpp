// Every way a process ends leaves a complete capture (or, when killed, its last checkpoint),
// and a capture that cannot be written costs one warning, never the program.
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "format/capture.h"
#include "support/checks.h"
#include "support/skip.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
namespace fs = std::filesystem;

namespace {

int marker_line(const std::string& marker) {
  return measure::test::marker_line("tests/hostile/exit_paths.c", marker);
}

const measure::Site* site_at(const measure::Capture& c, const std::string& capture_path, int line) {
  auto r = run_process({tool_path(), "report", capture_path, "--top", "0", "--format", "json"});
  nlohmann::json report = nlohmann::json::parse(r.out);
  for (const auto& row : report["rows"]) {
    if (row["key"]["line"] == line) {
      for (const measure::Site& s : c.sites) {
        if (s.metrics.alloc_bytes == row["alloc_bytes"] && s.metrics.alloc_count == row["alloc_count"]) {
          return &s;
        }
      }
    }
  }
  return nullptr;
}

}  // namespace

// clearenv: a program that clears its environment first thing in main is traced all the
// same, into the capture -o names (the runtime has read its options by then).
TEST_CASE("return, exit, _exit, _Exit, quick_exit and clearenv all leave a complete capture") {
  struct Case {
    const char* how;
    int status;
  };
  for (Case c : {Case{"return", 0}, Case{"exit", 3}, Case{"_exit", 4}, Case{"_Exit", 5}, Case{"quick_exit", 6},
                 Case{"clearenv", 0}}) {
    CAPTURE(c.how);
    TempDir dir;
    auto native = run_process({fixture_path("exit_paths"), c.how});
    auto measured =
        run_process({tool_path(), "run", "-q", "-o", dir.file("e.msr"), "--", fixture_path("exit_paths"), c.how});
    CHECK(native.status() == c.status);
    CHECK(measured.status() == c.status);
    CHECK(measured.out == native.out);
    CHECK(measured.err == native.err);
    REQUIRE(fs::exists(dir.file("e.msr")));
    measure::Capture capture = measure::read_capture(dir.file("e.msr"));
    CHECK((capture.program.flags & 1) == 1);  // final, not a checkpoint
    const measure::Site* kept = site_at(capture, dir.file("e.msr"), marker_line("exit_kept"));
    REQUIRE(kept != nullptr);
    CHECK(kept->metrics.live_count == 5);
    CHECK(kept->metrics.live_bytes == 500);
    if (std::string(c.how) == "quick_exit") {
      CHECK(site_at(capture, dir.file("e.msr"), marker_line("exit_quick_handler")) != nullptr);
    }
  }
}

TEST_CASE("threads still allocating when main returns: no crash, a readable capture, every time") {
  TempDir dir;
  for (int i = 0; i < 20; ++i) {
    CAPTURE(i);
    auto r = run_process({"timeout", "30", tool_path(), "run", "-q", "-o", dir.file("t.msr"), "--",
                          fixture_path("exit_paths"), "threads"});
    REQUIRE(r.status() == 7);
    CHECK(r.out == "ending with threads\n");
    CHECK(r.err.empty());
    CHECK_NOTHROW(measure::read_capture(dir.file("t.msr")));
  }
}

TEST_CASE("a program killed with SIGKILL leaves its last checkpoint") {
  TempDir dir;
  // Only this run's program: $$ is the shell that becomes `measure run`, its parent.
  std::string script = "(sleep 1.5; pkill -KILL -P $$ -x exit_paths) & exec " + tool_path() + " run -q -o " +
                       dir.file("k.msr") + " -- " + fixture_path("exit_paths") + " sleep";
  auto r = run_process({"bash", "-c", script}, {{"MEASURE_CHECKPOINT_INTERVAL", "0.2"}});
  CHECK(r.status() == 128 + SIGKILL);
  REQUIRE(fs::exists(dir.file("k.msr")));
  measure::Capture capture = measure::read_capture(dir.file("k.msr"));
  CHECK((capture.program.flags & 1) == 0);    // a checkpoint
  REQUIRE(capture.program.exit.has_value());  // measure run still records how it ended
  CHECK(capture.program.exit->signal == SIGKILL);
  const measure::Site* kept = site_at(capture, dir.file("k.msr"), marker_line("exit_kept"));
  REQUIRE(kept != nullptr);
  CHECK(kept->metrics.live_count == 5);
  // The checkpoint carries the timeline up to when it was written: what memory did before
  // the kill (the OOM killer's victims need it most).
  REQUIRE(!capture.timeline.empty());
  CHECK(capture.timeline.samples.back().time_ns >= 1000000000);
  CHECK(capture.timeline.peak_bytes == capture.totals.peak_bytes);
}

TEST_CASE("measure run refuses an unwritable capture path before the program starts") {
  TempDir dir;
  std::string marker = dir.file("ran");
  // A path below a regular file cannot be created, whoever runs the test (root included).
  auto measured =
      run_process({tool_path(), "run", "-o", "/etc/hostname/x.msr", "--", "/bin/sh", "-c", "touch " + marker});
  CHECK(measured.status() == 2);
  CHECK(measured.out.empty());
  CHECK(measured.err ==
        "measure: run: cannot write the capture to /etc/hostname/x.msr: /etc/hostname is not a directory (the "
        "program was not started)\n");
  CHECK_FALSE(fs::exists(marker));  // the program's own side effect did not happen
}

// As root every directory is writable: a CTest entry of its own (exit_test_non_root), skipped
// there.
TEST_CASE("measure run refuses a capture path in a directory the user may not write to" *
          doctest::test_suite("non_root")) {
  if (::geteuid() == 0) {
    measure::test::skip_test_case("root may write to every directory");
    return;
  }
  TempDir dir;
  std::string marker = dir.file("ran");
  auto denied = run_process({tool_path(), "run", "-o", "/proc/x.msr", "--", "/bin/sh", "-c", "touch " + marker});
  CHECK(denied.status() == 2);
  CHECK(denied.err.find("(the program was not started)") != std::string::npos);
  CHECK_FALSE(fs::exists(marker));
}

TEST_CASE("a capture path that becomes unwritable costs one warning and leaves the program alone") {
  auto native = run_process({fixture_path("exit_paths"), "exit"});
  // Preloaded by hand, the runtime only finds out when it writes.
  std::string preload = measure::test::preload_path();
  auto measured = run_process(
      {fixture_path("exit_paths"), "exit"},
      {{"LD_PRELOAD", preload}, {"MEASURE_OUTPUT", "/etc/hostname/x.msr"}, {"MEASURE_CHECKPOINT_INTERVAL", "0.05"}});
  CHECK(measured.status() == native.status());
  CHECK(measured.out == native.out);
  std::istringstream lines(measured.err);
  int warnings = 0;
  for (std::string line; std::getline(lines, line);) {
    warnings += line.find("measure: cannot write the capture /etc/hostname/x.msr") == 0 ? 1 : 0;
  }
  CHECK(warnings == 1);
}

TEST_CASE("a file-size limit below the capture's size: one warning, no SIGXFSZ") {
  TempDir dir;
  std::string script = "ulimit -f 1; exec " + fixture_path("exit_paths") + " exit";
  auto native = run_process({"bash", "-c", script});
  auto measured = run_process({"bash", "-c",
                               "ulimit -f 1; exec " + tool_path() + " run -q -o " + dir.file("f.msr") + " -- " +
                                   fixture_path("exit_paths") + " exit"});
  CHECK(native.status() == 3);
  CHECK(measured.status() == 3);
  CHECK(measured.out == native.out);
  CHECK(measured.err.find("File too large") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.file("f.msr")));
}
