// `measure run` passes the program's exit status through (128+N for signal N) and leaves
// its standard output and standard error as they are natively.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::ProcessResult;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;

namespace {

struct Pair {
  ProcessResult native;
  ProcessResult measured;
};

Pair run_both(const std::vector<std::string>& args, TempDir& dir, bool quiet) {
  std::vector<std::string> native = {fixture_path("exit_with")};
  native.insert(native.end(), args.begin(), args.end());
  std::vector<std::string> measured = {tool_path(), "run", "-o", dir.file("run.msr")};
  if (quiet) {
    measured.push_back("-q");
  }
  measured.push_back("--");
  measured.insert(measured.end(), native.begin(), native.end());
  return {run_process(native), run_process(measured)};
}

// The lines measure itself adds after the program's own stderr.
std::vector<std::string> measure_lines(const std::string& err, const std::string& native_err) {
  REQUIRE(err.substr(0, native_err.size()) == native_err);
  std::vector<std::string> lines;
  std::istringstream in(err.substr(native_err.size()));
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

TEST_CASE("exit codes pass through and output is untouched") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{}, {"3"}, {"42"}, {"exit", "7"}, {"exit", "255"}}) {
    TempDir dir;
    Pair p = run_both(args, dir, true);
    CAPTURE(p.native.status());
    CHECK(p.native.signal == 0);
    CHECK(p.measured.status() == p.native.status());
    CHECK(p.measured.out == p.native.out);
    CHECK(p.measured.err == p.native.err);  // -q: not one byte added
  }
}

TEST_CASE("a program killed by a signal gives 128+N") {
  for (int sig : {SIGTERM, SIGKILL, SIGINT, SIGUSR1}) {
    TempDir dir;
    Pair p = run_both({"signal", std::to_string(sig)}, dir, true);
    CAPTURE(sig);
    CHECK(p.native.signal == sig);
    CHECK(p.measured.signal == 0);             // measure itself exits normally ...
    CHECK(p.measured.exit_code == 128 + sig);  // ... with the shell's code for the signal
    CHECK(p.measured.out == p.native.out);
    CHECK(p.measured.err == p.native.err);
  }
  TempDir dir;
  Pair p = run_both({"abort"}, dir, true);
  CHECK(p.measured.exit_code == 128 + SIGABRT);
  CHECK(p.measured.out == p.native.out);
}

TEST_CASE("the summary follows the program's own stderr and names the capture") {
  TempDir dir;
  Pair p = run_both({"5"}, dir, false);
  CHECK(p.measured.status() == 5);
  CHECK(p.measured.out == p.native.out);
  auto lines = measure_lines(p.measured.err, p.native.err);
  REQUIRE(lines.size() == 2);
  for (const std::string& line : lines) {
    CHECK(line.rfind("measure: ", 0) == 0);
  }
  CHECK(lines[1].find(dir.file("run.msr")) != std::string::npos);
  // The capture records the exit status measure saw.
  auto r = run_process({tool_path(), "report", dir.file("run.msr"), "--format", "json"});
  REQUIRE(r.status() == 0);
  auto report = nlohmann::json::parse(r.out);
  CHECK(report["program"]["exit_status"] == 5);
  CHECK(report["program"]["argv"].size() == 2);
}

TEST_CASE("a program killed before exit leaves no capture and measure says so") {
  TempDir dir;
  Pair p = run_both({"signal", std::to_string(SIGKILL)}, dir, false);
  CHECK(p.measured.exit_code == 128 + SIGKILL);
  auto lines = measure_lines(p.measured.err, p.native.err);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("no capture was written") != std::string::npos);
}

TEST_CASE("the default capture name is measure.<program>.<pid>.msr in the working directory") {
  TempDir dir;
  auto r = run_process({tool_path(), "run", "--", fixture_path("exit_with")}, {}, dir.path());
  CHECK(r.status() == 0);
  int found = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    std::string name = entry.path().filename().string();
    if (name.rfind("measure.exit_with.", 0) == 0 && name.size() > 4 && name.substr(name.size() - 4) == ".msr") {
      ++found;
    }
  }
  CHECK(found == 1);
}

TEST_CASE("children started with exec are not traced and keep their environment clean") {
  TempDir dir;
  // bash (traced) runs exit_with through exec: only bash's capture may appear, written just
  // before the exec.
  std::string script = "exec " + fixture_path("exit_with") + " 4";
  auto r = run_process({tool_path(), "run", "-q", "-o", dir.file("x.%p.msr"), "--", "bash", "-c", script});
  CHECK(r.status() == 4);
  std::vector<std::string> captures;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().extension() == ".msr") {
      captures.push_back(entry.path().string());
    }
  }
  REQUIRE(captures.size() == 1);  // exit_with was not preloaded
  auto report = run_process({tool_path(), "report", captures[0], "--format", "json"});
  REQUIRE(report.status() == 0);
  CHECK(
      std::filesystem::path(nlohmann::json::parse(report.out)["program"]["executable"].get<std::string>()).filename() ==
      "bash");
  auto env = run_process(
      {tool_path(), "run", "-q", "-o", dir.file("env.msr"), "--", "bash", "-c", "env | grep '^LD_PRELOAD=' || true"});
  CHECK(env.out.find("libmeasure_preload") == std::string::npos);
}

TEST_CASE("a script without #! runs under /bin/sh, as a shell would run it") {
  TempDir dir;
  std::string script = dir.file("no-shebang");
  {
    std::ofstream out(script);
    out << "echo \"from the script: $1\"\nexit 3\n";
  }
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  auto native = run_process({"/bin/sh", "-c", "\"$0\" arg", script});
  auto measured = run_process({tool_path(), "run", "-q", "-o", dir.file("s.msr"), "--", script, "arg"});
  CHECK(native.out == "from the script: arg\n");
  CHECK(measured.out == native.out);
  CHECK(measured.status() == 3);
  CHECK(measured.err.empty());
  CHECK(std::filesystem::exists(dir.file("s.msr")));  // the shell that ran it was traced
}
