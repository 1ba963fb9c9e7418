// Named scopes through the measure command: `report --by scope`, `report --scope NAME` and
// `diff --by scope` on real captures of tests/report/scoped.cpp, whose scopes have exactly
// known costs, and the bad input around them.
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

// Runs the fixture with `temporaries` per parse entry and `entries` parse entries.
std::string capture(TempDir& dir, const std::string& name, int temporaries = 12, int entries = 5) {
  std::string path = dir.file(name + ".msr");
  ProcessResult r = run_process({tool_path(), "run", "-q", "-o", path, "--", fixture_path("scoped"),
                                 std::to_string(temporaries), std::to_string(entries)});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return path;
}

ProcessResult measure_tool(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {tool_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv);
}

json json_of(std::vector<std::string> args) {
  args.insert(args.end(), {"--format", "json"});
  ProcessResult r = measure_tool(args);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return json::parse(r.out);
}

int marker_line(const std::string& marker) {
  return measure::test::marker_line("tests/report/scoped.cpp", marker);
}

}  // namespace

TEST_CASE("report --by scope: one row per scope with its entries and its costs per entry") {
  TempDir dir;
  std::string path = capture(dir, "scoped");
  json r = json_of({"report", path, "--by", "scope"});
  REQUIRE(r["rows"].size() == 2);

  // Sorted by bytes allocated: render (3 x 4000 B) before parse (5 x (12 x 64 + 10) B).
  const json& render = r["rows"][0];
  CHECK(render["key"] == json{{"scope", "render"}});
  CHECK(render["entries"] == 3);
  CHECK(render["alloc_count"] == 3);
  CHECK(render["alloc_bytes"] == 12000);
  CHECK(render["free_count"] == 3);
  CHECK(render["live_bytes"] == 0);
  CHECK(render["peak_bytes"] == 4000);
  CHECK(render["temporary_count"].is_null());
  CHECK(render["per_entry"]["alloc_count"] == 1);
  CHECK(render["per_entry"]["alloc_bytes"] == 4000);

  const json& parse = r["rows"][1];
  CHECK(parse["key"] == json{{"scope", "parse"}});
  CHECK(parse["entries"] == 5);
  CHECK(parse["alloc_count"] == 65);
  CHECK(parse["alloc_bytes"] == 3890);
  CHECK(parse["free_count"] == 60);
  CHECK(parse["freed_bytes"] == 3840);
  CHECK(parse["live_count"] == 5);
  CHECK(parse["live_bytes"] == 50);
  CHECK(parse["peak_bytes"] == 64);
  CHECK(parse["stacks"] == 2);
  CHECK(parse["per_entry"]["alloc_count"] == 13);
  CHECK(parse["per_entry"]["alloc_bytes"] == 778);
  CHECK(parse["per_entry"]["free_count"] == 12);
  CHECK(parse["per_entry"]["live_bytes"] == 10);

  // The totals stay the whole program's (libstdc++'s start-up pool included), temporaries
  // known: parse's 60 blocks are each freed before the thread's next allocation.
  CHECK(r["totals"]["alloc_bytes"].get<long>() >= 100 + 12000 + 3890);
  CHECK(r["totals"]["temporary_count"].get<long>() >= 60);
  CHECK(r["selected"]["peak_bytes"].is_null());
  CHECK(r["scope"].is_null());

  ProcessResult text = measure_tool({"report", path, "--by", "scope"});
  REQUIRE(text.status() == 0);
  CAPTURE(text.out);
  CHECK(text.out.find("Top 2 of 2 scopes by bytes allocated") != std::string::npos);
  CHECK(text.out.find("5 entries; per entry 13 allocations (778 B), 12 frees, peak up to 64 B") != std::string::npos);
  CHECK(text.out.find("3 entries; per entry 1 allocation (3.9 KiB), 1 free, peak up to 3.9 KiB") != std::string::npos);
}

TEST_CASE("report --scope NAME: the call sites inside one scope, over all its entries") {
  TempDir dir;
  std::string path = capture(dir, "scoped");
  json r = json_of({"report", path, "--scope", "parse", "--by", "line", "--top", "0"});
  CHECK(r["scope"] == json{{"name", "parse"}, {"entries", 5}, {"peak_bytes", 64}});
  CHECK(r["totals"]["alloc_count"] == 65);
  CHECK(r["totals"]["alloc_bytes"] == 3890);
  CHECK(r["totals"]["live_bytes"] == 50);
  CHECK(r["totals"]["peak_bytes"] == 64);
  CHECK(r["totals"]["temporary_count"].is_null());
  REQUIRE(r["rows"].size() == 2);

  const json& temporaries = r["rows"][0];
  CHECK(temporaries["key"]["line"] == marker_line("parse-temporary"));
  CHECK(temporaries["alloc_count"] == 60);
  CHECK(temporaries["alloc_bytes"] == 3840);
  CHECK(temporaries["free_count"] == 60);
  CHECK(temporaries["live_bytes"] == 0);
  // A call site seen through a scope has no peak of its own: unknown, never a made-up zero.
  CHECK(temporaries["peak_bytes"].is_null());
  CHECK(temporaries["temporary_count"].is_null());

  const json& kept = r["rows"][1];
  CHECK(kept["key"]["line"] == marker_line("parse-kept"));
  CHECK(kept["alloc_count"] == 5);
  CHECK(kept["alloc_bytes"] == 50);
  CHECK(kept["live_count"] == 5);
  CHECK(kept["live_bytes"] == 50);

  // render's vector and main's block are outside the scope.
  json render = json_of({"report", path, "--scope", "render", "--by", "function"});
  CHECK(render["totals"]["alloc_bytes"] == 12000);
  REQUIRE(render["rows"].size() == 1);
  CHECK(render["rows"][0]["alloc_count"] == 3);

  ProcessResult text = measure_tool({"report", path, "--scope", "parse"});
  REQUIRE(text.status() == 0);
  CAPTURE(text.out);
  CHECK(text.out.find("inside scope 'parse' only: 5 entries, peak up to 64 B in one entry") != std::string::npos);
  CHECK(text.out.find("temporaries are not tracked inside scopes") != std::string::npos);

  ProcessResult csv = measure_tool({"report", path, "--scope", "parse", "--by", "line", "--format", "csv"});
  REQUIRE(csv.status() == 0);
  CAPTURE(csv.out);
  CHECK(csv.out.find(",60,3840,60,3840,0,0,—,—,1\n") != std::string::npos);
  CHECK(csv.out.find(",5,50,0,0,5,50,—,—,1\n") != std::string::npos);
}

TEST_CASE("report --scope NAME names its frames from the capture's stored symbols") {
  // The program is gone after the run (as after a rebuild): only the symbols measure run
  // stored in the capture can name its frames.
  TempDir dir;
  std::string program = dir.file("scoped-copy");
  std::filesystem::copy_file(fixture_path("scoped"), program);
  std::filesystem::permissions(program, std::filesystem::perms::owner_exec, std::filesystem::perm_options::add);
  std::string path = dir.file("gone.msr");
  ProcessResult r = run_process({tool_path(), "run", "-q", "-o", path, "--", program, "12", "5"});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  std::filesystem::remove(program);
  json render = json_of({"report", path, "--scope", "render", "--by", "function"});
  REQUIRE(render["rows"].size() == 1);
  CHECK(render["rows"][0]["key"]["function"].get<std::string>().find("render") != std::string::npos);
  json parse = json_of({"report", path, "--scope", "parse", "--by", "line", "--top", "0"});
  REQUIRE(parse["rows"].size() == 2);
  CHECK(parse["rows"][0]["key"]["line"] == marker_line("parse-temporary"));
}

TEST_CASE("diff --by scope compares costs per entry") {
  TempDir dir;
  std::string base = capture(dir, "base");
  std::string more_entries = capture(dir, "more_entries", 12, 7);
  std::string grown = capture(dir, "grown", 14, 5);

  SUBCASE("entering a scope more often is not a regression") {
    json d = json_of({"diff", base, more_entries, "--by", "scope", "--fail-on-increase", "0"});
    CHECK(d["regressed"] == false);
    for (const json& row : d["rows"]) {
      CAPTURE(row);
      CHECK(row["status"] == "same");
    }
    ProcessResult r = measure_tool({"diff", base, more_entries, "--by", "scope", "--fail-on-increase", "0"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("parse (5 → 7 entries; per entry)") != std::string::npos);
  }

  SUBCASE("a scope whose every entry allocates more is one") {
    json d = json_of({"diff", base, grown, "--by", "scope", "--top", "0"});
    REQUIRE(d["rows"].size() == 2);
    const json& parse = d["rows"][0];
    CHECK(parse["key"] == json{{"scope", "parse"}});
    CHECK(parse["status"] == "changed");
    CHECK(parse["old"]["alloc_bytes"] == 778);
    CHECK(parse["new"]["alloc_bytes"] == 906);
    CHECK(parse["delta"]["alloc_bytes"] == 128);
    CHECK(parse["delta"]["alloc_count"] == 2);
    CHECK(parse["delta"]["temporary_count"].is_null());
    CHECK(d["rows"][1]["status"] == "same");

    ProcessResult r = measure_tool({"diff", base, grown, "--by", "scope", "--fail-on-increase", "5"});
    CAPTURE(r.out);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("REGRESSED") != std::string::npos);
    CHECK(r.out.find("1 row broke it: #1 parse") != std::string::npos);
  }
}

TEST_CASE("scope options: bad input is one line and exit status 2") {
  TempDir dir;
  std::string path = capture(dir, "scoped");
  check_one_line_error(measure_tool({"report", path, "--scope", "nosuch"}),
                       "--scope nosuch: no scope of that name (this capture has: parse, render)");
  check_one_line_error(measure_tool({"report", path, "--by", "scope", "--format", "folded"}), "--by scope");
  check_one_line_error(measure_tool({"report", path, "--by", "scope", "--include", "parse*"}),
                       "--include and --exclude select call stacks, not scopes");

  std::string plain = dir.file("plain.msr");
  ProcessResult r = run_process({tool_path(), "run", "-q", "-o", plain, "--", fixture_path("alloc_c")});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  check_one_line_error(measure_tool({"report", plain, "--scope", "parse"}), "this capture has no named scopes");
}
