// Programs the measured program starts (hostile/start_child.c): with --follow-exec every
// way of starting one gives a traced program whose environment is still its own; without the
// options, the captures count the processes that were not traced and `measure run` says so;
// a program that replaces itself with exec keeps the capture of what it did before.
#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "format/capture.h"
#include "format/capture_format.h"
#include "support/checks.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::marker_line;
using measure::test::run_process;
using measure::test::sorted_lines;
using measure::test::TempDir;
using measure::test::tool_path;
namespace fs = std::filesystem;

namespace {

// The captures in `dir`, by file name, with their executable's name.
std::map<std::string, std::string> executables_in(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.find(".msr") != std::string::npos && name.find(".tmp.") == std::string::npos) {
      out[name] = fs::path(measure::read_capture(entry.path().string()).program.executable).filename().string();
    }
  }
  return out;
}

// The report's JSON of `capture`.
nlohmann::json report_of(const std::string& capture) {
  auto r = run_process({tool_path(), "report", capture, "--top", "0", "--format", "json"});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return nlohmann::json::parse(r.out);
}

// The line `measure run` prints about untraced processes, or "" when there is none.
std::string untraced_line(const std::string& err) {
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("measure: the program started ", 0) == 0) {
      return line;
    }
  }
  return "";
}

const std::vector<std::string> exec_ways = {"execve", "execv",  "execvp", "execvpe",
                                            "execl",  "execle", "execlp", "fexecve"};
const std::vector<std::string> spawn_ways = {"posix_spawn", "posix_spawnp", "system", "popen"};

}  // namespace

TEST_CASE("--follow-exec: every way of starting a program traces it, and its environment is its own") {
  std::vector<std::string> ways = exec_ways;
  ways.insert(ways.end(), {"vfork", "posix_spawn", "posix_spawnp", "system", "popen"});
  for (const std::string& how : ways) {
    CAPTURE(how);
    // The started program is env, which prints its environment.
    auto native = run_process({fixture_path("start_child"), how, "/usr/bin/env"});
    REQUIRE(native.status() == 0);
    TempDir dir;
    auto measured = run_process({tool_path(), "run", "-q", "--follow-exec", "-o", dir.file("s.%p.msr"), "--",
                                 fixture_path("start_child"), how, "/usr/bin/env"});
    CHECK(measured.status() == 0);
    CHECK(measured.err == native.err);
    CHECK(sorted_lines(measured.out) == sorted_lines(native.out));

    std::map<std::string, std::string> captures = executables_in(dir.path());
    std::string start_child;
    std::string env;
    for (const auto& [file, executable] : captures) {
      start_child = executable == "start_child" ? file : start_child;
      env = executable == "env" ? file : env;
      CHECK((executable == "start_child" || executable == "env" || executable == "dash" || executable == "bash"));
    }
    REQUIRE(!start_child.empty());
    REQUIRE(!env.empty());
    bool replaced_itself = std::find(exec_ways.begin(), exec_ways.end(), how) != exec_ways.end();
    if (replaced_itself) {
      // The same process: env's capture takes the next free name, never start_child's.
      CHECK(env == start_child + ".1");
      CHECK(captures.size() == 2);
    }
    // What start_child did before it started env is in its capture.
    nlohmann::json report = report_of(dir.file(start_child));
    CHECK(report["totals"]["alloc_bytes"] >= 100);
    CHECK(report["dropped"]["untraced_execs"] == 0);
    CHECK(report["dropped"]["untraced_forks"] == 0);
  }
}

TEST_CASE("--follow-exec: a program that sets LD_PRELOAD itself before exec gets measure's library and its own") {
  TempDir dir;
  std::string own = fixture_path("libchurn_lib.so");
  // env (traced) sets LD_PRELOAD and runs the second env with execvp.
  auto r = run_process({tool_path(), "run", "-q", "--follow-exec", "-o", dir.file("e.%p.msr"), "--", "env",
                        "LD_PRELOAD=" + own, "/usr/bin/env"},
                       {}, {}, {"LD_PRELOAD"});
  CHECK(r.status() == 0);
  CHECK(r.out.find("LD_PRELOAD=" + own + "\n") != std::string::npos);
  CHECK(r.out.find("libmeasure") == std::string::npos);
  std::map<std::string, std::string> captures = executables_in(dir.path());
  REQUIRE(captures.size() == 2);  // the first env before its exec, the second one
  bool preloaded_both = false;
  for (const auto& [file, executable] : captures) {
    if (file.size() > 2 && file.substr(file.size() - 2) == ".1") {
      bool ours = false;
      bool its_own = false;
      for (const measure::Module& m : measure::read_capture(dir.file(file)).modules) {
        ours = ours || fs::path(m.path).filename() == "libmeasure_preload.so";
        its_own = its_own || fs::path(m.path).filename() == "libchurn_lib.so";
      }
      preloaded_both = ours && its_own;
    }
  }
  CHECK(preloaded_both);
}

TEST_CASE("without the options, the captures count what was not traced and measure run says so") {
  struct Case {
    std::string how;
    std::uint64_t forks;
    std::uint64_t execs;
    std::string line;
  };
  const std::string execd =
      "measure: the program started 1 process that was not traced (exec'd: 1); --follow-exec traces it";
  for (const Case& c : std::vector<Case>{
           {"fork", 1, 0,
            "measure: the program started 1 process that was not traced (forked: 1); --follow-forks traces it"},
           {"vfork", 0, 1, execd},
           {"posix_spawn", 0, 1, execd},
           {"posix_spawnp", 0, 1, execd},
           {"system", 0, 1, execd},
           {"popen", 0, 1, execd},
           {"execve", 0, 1, execd},
           {"execlp", 0, 1, execd}}) {
    CAPTURE(c.how);
    TempDir dir;
    auto r = run_process({tool_path(), "run", "-o", dir.file("s.%p.msr"), "--", fixture_path("start_child"), c.how,
                          fixture_path("exit_with"), "3"});
    CHECK(r.status() == (c.how == "fork" ? 0 : 3));
    CHECK(untraced_line(r.err) == c.line);
    CHECK(r.err.find("no capture was written") == std::string::npos);
    std::map<std::string, std::string> captures = executables_in(dir.path());
    REQUIRE(captures.size() == 1);
    CHECK(captures.begin()->second == "start_child");
    nlohmann::json report = report_of(dir.file(captures.begin()->first));
    CHECK(report["dropped"]["untraced_forks"] == c.forks);
    CHECK(report["dropped"]["untraced_execs"] == c.execs);
    // Kept, also when start_child replaced itself: written just before the exec.
    CHECK(report["totals"]["alloc_count"] >= 1);
    CHECK(report["totals"]["alloc_bytes"] >= 100);
  }
}

TEST_CASE("the summary sums the counts of every capture and names only the options that help") {
  // spawn.c starts exit_with four ways: fork+exec, vfork+exec, posix_spawn, system().
  struct Case {
    std::vector<std::string> options;
    std::string line;
  };
  for (const Case& c : std::vector<Case>{
           {{},
            "measure: the program started 4 processes that were not traced (forked: 1, exec'd: 3); --follow-forks "
            "and --follow-exec trace them"},
           // The forked child is followed; it counts the program it execs in its own capture.
           {{"--follow-forks"},
            "measure: the program started 4 processes that were not traced (exec'd: 4); --follow-exec traces them"},
           {{"--follow-exec"},
            "measure: the program started 1 process that was not traced (forked: 1); --follow-forks traces it"},
           {{"--follow-forks", "--follow-exec"}, ""}}) {
    CAPTURE(c.options.size());
    TempDir dir;
    std::vector<std::string> argv = {tool_path(), "run", "-o", dir.file("s.%p.msr")};
    argv.insert(argv.end(), c.options.begin(), c.options.end());
    argv.insert(argv.end(), {"--", fixture_path("spawn"), fixture_path("exit_with")});
    // Twice in the same directory: the second run counts its own captures only, not those
    // the first one left a moment before.
    for (int run = 0; run < 2; ++run) {
      CAPTURE(run);
      auto r = run_process(argv);
      CHECK(r.status() == 0);
      CHECK(untraced_line(r.err) == c.line);
    }
  }
  // -q: no summary, no line.
  TempDir dir;
  auto quiet = run_process(
      {tool_path(), "run", "-q", "-o", dir.file("s.%p.msr"), "--", fixture_path("spawn"), fixture_path("exit_with")});
  CHECK(untraced_line(quiet.err).empty());
}

TEST_CASE("a failed exec: the count is taken back and recording goes on") {
  TempDir dir;
  auto r = run_process({tool_path(), "run", "-o", dir.file("f.msr"), "--", fixture_path("start_child"), "execve",
                        dir.file("no-such-program")});
  CHECK(r.status() == 0);
  CHECK(r.out == "exec failed\n");
  CHECK(untraced_line(r.err).empty());
  nlohmann::json report = report_of(dir.file("f.msr"));
  CHECK(report["dropped"]["untraced_execs"] == 0);
  measure::Capture capture = measure::read_capture(dir.file("f.msr"));
  CHECK((capture.program.flags & measure::format::program_final) != 0);
  std::string source = "tests/hostile/start_child.c";
  std::map<int, std::uint64_t> bytes_by_line;
  auto rows = run_process({tool_path(), "report", dir.file("f.msr"), "--by", "line", "--top", "0", "--format", "json"});
  REQUIRE(rows.status() == 0);
  nlohmann::json by_line = nlohmann::json::parse(rows.out);
  for (const auto& row : by_line["rows"]) {
    if (row["key"]["file"].is_string() &&
        fs::path(row["key"]["file"].get<std::string>()).filename() == "start_child.c") {
      bytes_by_line[row["key"]["line"].get<int>()] += row["alloc_bytes"].get<std::uint64_t>();
    }
  }
  CHECK(bytes_by_line[marker_line(source, "before_start")] == 100);
  CHECK(bytes_by_line[marker_line(source, "after_failed_exec")] == 200);
}
