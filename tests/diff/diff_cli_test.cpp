// End to end through the measure command: diffs of real captures across optimization levels
// and of a program whose one call site grew, exit statuses, -o for every report format, and
// bad input to `measure diff`.
#include <filesystem>
#include <fstream>
#include <map>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support/checks.h"
#include "support/subprocess.h"

using measure::test::check_one_line_error;
using measure::test::fixture_path;
using measure::test::marker_line;
using measure::test::ProcessResult;
using measure::test::read_text;
using measure::test::run_process;
using measure::test::source_path;
using measure::test::TempDir;
using measure::test::tool_path;
using nlohmann::json;

namespace {

std::string capture(TempDir& dir, const std::string& name, const std::vector<std::string>& command) {
  std::string path = dir.file(name + ".msr");
  std::vector<std::string> argv = {tool_path(), "run", "-q", "-o", path, "--"};
  argv.insert(argv.end(), command.begin(), command.end());
  ProcessResult r = run_process(argv);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return path;
}

ProcessResult diff(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {tool_path(), "diff"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv);
}

json diff_json(const std::vector<std::string>& args) {
  std::vector<std::string> argv = args;
  argv.insert(argv.end(), {"--top", "0", "--format", "json"});
  ProcessResult r = diff(argv);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return json::parse(r.out);
}

}  // namespace

TEST_CASE("diff: the fixtures at -O0 and at -O2 match call site for call site") {
  TempDir dir;
  for (const char* fixture : {"alloc_c", "alloc_cpp"}) {
    CAPTURE(fixture);
    std::string o0 = capture(dir, std::string(fixture) + "_O0", {fixture_path(fixture)});
    std::string o2 = capture(dir, std::string(fixture) + "_O2", {fixture_path(std::string("O2/") + fixture)});
    // By line too: each call's line survives inlining, because the symbolizer names inlined
    // frames from DWARF with their call lines.
    for (const char* by : {"function", "line"}) {
      CAPTURE(by);
      json d = diff_json({o0, o2, "--by", by});
      CHECK(d["regressed"] == false);
      REQUIRE(d["rows"].size() > 1);
      for (const json& row : d["rows"]) {
        CAPTURE(row.dump());
        CHECK(row["status"] == "same");
      }
      CHECK(d["totals"]["delta"]["alloc_count"] == 0);
    }
    // Every marked call site of the source is there (the volatile sinks keep them at -O2).
    std::string source =
        std::string("tests/fixtures/") + (fixture == std::string("alloc_c") ? "alloc_c.c" : "alloc_cpp.cpp");
    json d = diff_json({o0, o2, "--by", "line"});
    std::ifstream in(source_path(source));
    std::string text;
    for (int n = 1; std::getline(in, text); ++n) {
      // realloc(p, 0) frees and allocates nothing: its line has no row.
      if (text.find("@") == std::string::npos || text.find("@c_realloc_zero ") != std::string::npos) {
        continue;
      }
      bool found = false;
      for (const json& row : d["rows"]) {
        found = found || (row["key"]["line"] == n && row["status"] == "same");
      }
      CAPTURE(text);
      CHECK(found);
    }
  }
}

TEST_CASE("diff: the one site that grew comes first, with its exact delta, and fails the gate") {
  TempDir dir;
  std::string ten = capture(dir, "ten", {fixture_path("grow_site"), "10"});
  std::string ten_again = capture(dir, "ten_again", {fixture_path("grow_site"), "10"});
  std::string twelve = capture(dir, "twelve", {fixture_path("grow_site"), "12"});
  int growing = marker_line("tests/fixtures/grow_site.c", "growing");
  int steady = marker_line("tests/fixtures/grow_site.c", "steady");

  json d = diff_json({ten, twelve});
  const json& first = d["rows"][0];
  CHECK(first["key"]["line"] == growing);
  CHECK(first["key"]["function"] == "growing");
  CHECK(first["status"] == "changed");
  CHECK(first["old"]["alloc_count"] == 10);
  CHECK(first["new"]["alloc_count"] == 12);
  CHECK(first["delta"] == json::parse(R"({"alloc_count": 2, "alloc_bytes": 2000, "free_count": 2,
      "freed_bytes": 2000, "live_count": 0, "live_bytes": 0, "peak_bytes": 0, "temporary_count": 2})"));
  for (std::size_t i = 1; i < d["rows"].size(); ++i) {
    CHECK(d["rows"][i]["status"] == "same");
  }
  bool steady_found = false;
  for (const json& row : d["rows"]) {
    steady_found = steady_found || row["key"]["line"] == steady;
  }
  CHECK(steady_found);
  CHECK(d["totals"]["delta"]["alloc_bytes"] == 2000);

  ProcessResult gate = diff({ten, twelve, "--fail-on-increase", "5"});
  CHECK(gate.exit_code == 1);
  CHECK(gate.out.find("REGRESSED") != std::string::npos);
  CHECK(gate.err.empty());
  ProcessResult json_gate = diff({ten, twelve, "--fail-on-increase", "5", "--format", "json"});
  CHECK(json_gate.exit_code == 1);
  CHECK(json::parse(json_gate.out)["regressed"] == true);
  CHECK(diff({ten, twelve, "--fail-on-increase", "20"}).exit_code == 0);  // +20% is not more than 20%
  CHECK(diff({ten, twelve, "--fail-on-increase", "5", "--min-bytes", "2001"}).exit_code == 0);
  CHECK(diff({ten, twelve, "--fail-on-increase", "5", "--min-bytes", "2000"}).exit_code == 1);
  CHECK(diff({ten, ten_again, "--fail-on-increase", "5"}).exit_code == 0);
  CHECK(diff({twelve, ten, "--fail-on-increase", "0"}).exit_code == 0);  // shrinking passes
  ProcessResult md = diff({ten, twelve, "--format", "markdown", "--fail-on-increase", "5"});
  CHECK(md.exit_code == 1);
  CHECK(md.out.find("| 1 | changed ❗ | `grow_site.c:" + std::to_string(growing) + "  growing` |") != std::string::npos);
}

TEST_CASE("report -o writes every format, binary pprof included, as standard output would") {
  TempDir dir;
  std::string path = capture(dir, "c", {fixture_path("alloc_c")});
  for (const char* format : {"text", "json", "csv", "markdown", "folded", "svg", "pprof"}) {
    CAPTURE(format);
    std::string out = dir.file(std::string("report.") + format);
    ProcessResult to_file = run_process({tool_path(), "report", path, "--format", format, "-o", out});
    CHECK(to_file.status() == 0);
    CHECK(to_file.out.empty());
    ProcessResult to_stdout = run_process({tool_path(), "report", path, "--format", format});
    CHECK(to_stdout.status() == 0);
    std::string written = read_text(out);
    CHECK(written == to_stdout.out);
    CHECK(!written.empty());
    if (std::string(format) == "pprof") {
      CHECK(static_cast<unsigned char>(written[0]) == 0x1f);  // gzip magic
      CHECK(static_cast<unsigned char>(written[1]) == 0x8b);
    }
  }
  std::string out = dir.file("diff.md");
  ProcessResult to_file = diff({path, path, "--format", "markdown", "-o", out});
  CHECK(to_file.exit_code == 0);
  CHECK(read_text(out).rfind("### measure diff:", 0) == 0);
}

TEST_CASE("diff: bad input gets one line and exit status 2") {
  TempDir dir;
  std::string good = capture(dir, "good", {fixture_path("alloc_c")});
  check_one_line_error(diff({good}), "new");
  check_one_line_error(diff({good, dir.file("missing.msr")}), "missing.msr");
  check_one_line_error(diff({fixture_path("alloc_c"), good}), "not a measure capture");
  check_one_line_error(diff({good, good, "--by", "colour"}), "colour");
  check_one_line_error(diff({good, good, "--by", "scope"}), "scope");
  check_one_line_error(diff({good, good, "--fail-on-increase", "lots"}), "lots");
  check_one_line_error(diff({good, good, "--fail-on-increase", "-3"}), "fail-on-increase");
  check_one_line_error(diff({good, good, "--format", "svg"}), "svg");
  std::string bytes = read_text(good);
  measure::test::write_text(dir.file("cut.msr"), bytes.substr(0, bytes.size() - 5));
  check_one_line_error(diff({good, dir.file("cut.msr")}), "truncated");
}
