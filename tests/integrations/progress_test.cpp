// Progress on a terminal, and silence elsewhere: the tools run under a pseudo-terminal
// (script(1) from util-linux) and with their standard error on a pipe or a file.
#include <filesystem>

#include <doctest/doctest.h>

#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::ProcessResult;
using measure::test::read_text;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
using measure::test::write_text;

namespace {

const std::string erase = "\r\033[K";

std::string sh_quote(const std::string& s) {
  return "'" + s + "'";
}

// What a terminal shows when `command` runs on one (the pseudo-terminal's whole output). The
// terminal is wide enough for the build tree's long paths: lines are cut to its width.
std::string on_terminal(const std::string& command, const std::vector<std::pair<std::string, std::string>>& env = {}) {
  ProcessResult r = run_process({"script", "-qec", "stty cols 400 && " + command, "/dev/null"}, env);
  REQUIRE_MESSAGE(r.status() == 0, r.out << r.err);
  return r.out;
}

std::string capture_of(const TempDir& dir, const std::string& fixture) {
  std::string path = dir.file(fixture + ".msr");
  ProcessResult r = run_process({tool_path(), "run", "-q", "-o", path, "--", fixture_path(fixture)});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return path;
}

}  // namespace

TEST_CASE("report and diff show what they are doing on a terminal, and erase it before the result") {
  TempDir dir;
  std::string capture = capture_of(dir, "flame_fixture");
  std::string shown = on_terminal(sh_quote(tool_path()) + " report " + sh_quote(capture) + " > /dev/null");
  CHECK(shown.find(erase + "measure report: reading " + capture) != std::string::npos);
  CHECK(shown.find("measure report: grouping 3 call sites") != std::string::npos);
  CHECK(shown.find("measure report: writing the text report") != std::string::npos);
  CHECK(shown.ends_with(erase));  // nothing left behind

  shown = on_terminal(sh_quote(tool_path()) + " diff " + sh_quote(capture) + " " + sh_quote(capture) + " > /dev/null");
  CHECK(shown.find(erase + "measure diff: reading ") != std::string::npos);
  CHECK(shown.find("measure diff: grouping 6 call sites") != std::string::npos);
  CHECK(shown.ends_with(erase));

  // The report itself, on the same terminal, comes after the erased status line.
  shown = on_terminal(sh_quote(tool_path()) + " report " + sh_quote(capture));
  std::size_t report = shown.find("measure report: ./") == std::string::npos ? shown.find("measure report: /")
                                                                             : shown.find("measure report: ./");
  REQUIRE(report != std::string::npos);
  CHECK(shown.rfind(erase, report) == report - erase.size());
}

TEST_CASE("import shows how much of the file it has read") {
  TempDir dir;
  std::string text = "v 10400 3\nX ./app\ns 4 main\ni 1000 0 1\nt 1 0\na 40 1\n";
  for (int i = 0; i < 20000; ++i) {
    text += "+ 0\n- 0\n";
  }
  write_text(dir.file("app.heaptrack"), text + "c 5\n# strings: 1\n# ips: 1\n");
  std::string shown = on_terminal(sh_quote(tool_path()) + " import " + sh_quote(dir.file("app.heaptrack")) + " -o " +
                                  sh_quote(dir.file("app.msr")));
  CHECK(shown.find(erase + "measure import: reading ") != std::string::npos);
  CHECK(shown.find(erase + "measure: imported 20,000 allocations") != std::string::npos);
}

TEST_CASE("nothing is drawn when standard error is a pipe or a file") {
  TempDir dir;
  std::string capture = capture_of(dir, "flame_fixture");
  ProcessResult piped = run_process({tool_path(), "report", capture});
  REQUIRE(piped.status() == 0);
  CHECK(piped.err.empty());
  CHECK(piped.out.find('\033') == std::string::npos);
  std::string shown =
      on_terminal(sh_quote(tool_path()) + " report " + sh_quote(capture) + " 2> " + sh_quote(dir.file("err.txt")));
  CHECK(read_text(dir.file("err.txt")).empty());
  CHECK(shown.find("measure report: reading") == std::string::npos);
  CHECK(shown.find('\033') == std::string::npos);
}

TEST_CASE("measure run shows live figures only on a terminal the program does not write to") {
  TempDir dir;
  std::vector<std::pair<std::string, std::string>> env = {{"MEASURE_CHECKPOINT_INTERVAL", "0.5"}};
  std::string run = sh_quote(tool_path()) + " run -o " + sh_quote(dir.file("slow.msr")) + " -- " +
                    sh_quote(fixture_path("slow_fixture")) + " 3";

  // Both outputs redirected: the terminal is free, so the checkpoints are shown there.
  std::string shown =
      on_terminal(run + " > " + sh_quote(dir.file("out.txt")) + " 2> " + sh_quote(dir.file("err.txt")), env);
  CHECK(shown.find(erase + "measure run: ") != std::string::npos);
  CHECK(shown.find(" allocations (") != std::string::npos);
  CHECK(shown.ends_with(erase));
  CHECK(read_text(dir.file("out.txt")) == "slow_fixture: started\nslow_fixture: done\n");
  std::string err = read_text(dir.file("err.txt"));
  CHECK(err.rfind("slow_fixture: started (stderr)\nslow_fixture: done (stderr)\nmeasure: ", 0) == 0);
  CHECK(err.find('\033') == std::string::npos);

  // The program writes to the terminal: no live figures, its lines intact, then the summary.
  shown = on_terminal(run, env);
  CHECK(shown.find("measure run:") == std::string::npos);
  CHECK(shown.find('\033') == std::string::npos);
  CHECK(shown.rfind("slow_fixture: started\r\nslow_fixture: started (stderr)\r\nslow_fixture: done\r\n", 0) == 0);
  CHECK(shown.find("measure: wrote " + dir.file("slow.msr")) != std::string::npos);
}
