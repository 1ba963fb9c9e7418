// The before/after loop as people run it, end to end with the real compiler: build, measure,
// edit, rebuild to the same path, measure, diff; captures that carry their symbols after the
// program is rebuilt or deleted; `measure symbolize`; and captures added together.
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
using measure::test::TempDir;
using measure::test::tool_path;
using measure::test::write_text;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Three call sites; `grow` doubles what one of them allocates, `shift` inserts lines above
// all of them (an edit elsewhere in the file).
std::string app_source(bool grow, int shift) {
  std::string pad;
  for (int i = 0; i < shift; ++i) {
    pad += "// an edit above the call sites\n";
  }
  return "#include <cstdlib>\n"
         "void* volatile sink;\n"
         "void* kept[8];\n" +
         pad +
         "__attribute__((noinline)) void parse(int n) {\n"
         "  for (int i = 0; i < n; ++i) { void* p = std::malloc(100); sink = p; std::free(p); }\n"
         "}\n"
         "__attribute__((noinline)) void render(int n) {\n"
         "  for (int i = 0; i < n; ++i) { void* p = std::malloc(" +
         (grow ? "400" : "200") +
         "); sink = p; std::free(p); }\n"
         "}\n"
         "__attribute__((noinline)) void cache(int n) {\n"
         "  for (int i = 0; i < n; ++i) { kept[i] = std::malloc(300); }\n"
         "}\n"
         "int main() {\n"
         "  parse(10);\n"
         "  render(20);\n"
         "  cache(5);\n"
         "  for (int i = 0; i < 5; ++i) { std::free(kept[i]); }\n"
         "  return 0;\n"
         "}\n";
}

void build(const TempDir& dir, const std::string& source) {
  write_text(dir.file("app.cpp"), source);
  ProcessResult r = run_process({"c++", "-g", "-O2", dir.file("app.cpp"), "-o", dir.file("app")});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
}

std::string measure_run(const TempDir& dir, const std::string& name, const std::vector<std::string>& command) {
  std::string path = dir.file(name);
  std::vector<std::string> argv = {tool_path(), "run", "-q", "-o", path, "--"};
  argv.insert(argv.end(), command.begin(), command.end());
  ProcessResult r = run_process(argv);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return path;
}

json tool_json(std::vector<std::string> args) {
  args.insert(args.begin(), tool_path());
  ProcessResult r = run_process(args);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return json::parse(r.out);
}

}  // namespace

TEST_CASE("edit, rebuild in place, measure again: unchanged call sites match, the grown one changed") {
  TempDir dir;
  build(dir, app_source(false, 0));
  std::string before = measure_run(dir, "before.msr", {dir.file("app")});
  build(dir, app_source(true, 3));  // the same path: the old binary is gone
  std::string after = measure_run(dir, "after.msr", {dir.file("app")});
  fs::remove(dir.file("app"));  // and now neither capture's program exists

  for (const char* by : {"line", "stack", "function"}) {
    CAPTURE(by);
    json d = tool_json({"diff", before, after, "--by", by, "--top", "0", "--format", "json"});
    CHECK(d["counts"]["new"] == 0);
    CHECK(d["counts"]["gone"] == 0);
    CHECK(d["counts"]["changed"] == 1);
    for (const json& row : d["rows"]) {
      CAPTURE(row.dump());
      bool grown = row["key"]["function"] == "render(int)";
      if (grown) {
        CHECK(row["status"] == "changed");
        CHECK(row["delta"]["alloc_bytes"] == 20 * 200);
        CHECK(row["delta"]["alloc_count"] == 0);
      } else {
        CHECK((row["status"] == "same" || row["status"] == "moved"));
      }
    }
    std::map<std::string, json> rows = measure::test::rows_by_function(d);
    REQUIRE(rows.count("parse(int)") == 1);
    REQUIRE(rows.count("cache(int)") == 1);
    REQUIRE(rows.count("render(int)") == 1);
    if (std::string(by) != "function") {
      // Three lines were inserted above every call site.
      for (const char* f : {"parse(int)", "cache(int)"}) {
        CHECK(rows[f]["status"] == "moved");
        CHECK(rows[f]["key"]["line"].get<int>() == rows[f]["old_key"]["line"].get<int>() + 3);
        CHECK(rows[f]["key"]["file"].get<std::string>().ends_with("app.cpp"));
      }
      CHECK(rows["render(int)"]["key"]["line"].get<int>() == rows["render(int)"]["old_key"]["line"].get<int>() + 3);
    } else {
      CHECK(rows["parse(int)"]["status"] == "same");
    }
  }

  // The text says so too, and a gate on the grown metric fails on exactly that row.
  ProcessResult text =
      run_process({tool_path(), "diff", before, after, "--fail-on", "alloc_bytes:+1000", "--fail-on", "live_bytes:0"});
  CAPTURE(text.out);
  CHECK(text.status() == 1);
  CHECK(text.out.find("0 new, 0 gone, 1 changed, 2 moved, ") != std::string::npos);
  CHECK(text.out.find("FAILED  alloc_bytes:+1000") != std::string::npos);
  CHECK(text.out.find("passed  live_bytes:0") != std::string::npos);
  CHECK(text.out.find("render(int) (was line") != std::string::npos);
}

TEST_CASE("a capture whose program was deleted still names functions, files and lines") {
  TempDir dir;
  build(dir, app_source(false, 0));
  std::string capture = measure_run(dir, "app.msr", {dir.file("app")});
  int cache_line = 0;
  {
    std::ifstream in(dir.file("app.cpp"));
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      if (line.find("kept[i] = std::malloc(300)") != std::string::npos) {
        cache_line = n;
      }
    }
  }
  fs::remove(dir.file("app"));
  fs::remove(dir.file("app.cpp"));
  json report = tool_json({"report", capture, "--top", "0", "--format", "json"});
  CHECK(report["symbols"]["stored_modules"].get<int>() >= 1);
  CHECK(report["symbols"]["file_modules"] == 0);
  CHECK(report["symbols"]["missing_modules"] == 0);
  bool found = false;
  for (const json& row : report["rows"]) {
    if (row["key"]["function"] == "cache(int)") {
      found = true;
      CHECK(row["key"]["line"] == cache_line);
      CHECK(row["key"]["file"] == dir.file("app.cpp"));
      CHECK(row["alloc_count"] == 5);
      CHECK(row["alloc_bytes"] == 1500);
      CHECK(row["stack"][1]["function"] == "main");
    }
  }
  CHECK(found);
  ProcessResult text = run_process({tool_path(), "report", capture});
  CHECK(text.out.find("Symbols stored in the capture for ") != std::string::npos);
  CHECK(text.out.find("module+offset") == std::string::npos);

  // Filters match the stored names too, unqualified ones included; a filter that leaves
  // nothing says so.
  json only_cache = tool_json({"report", capture, "--include", "cache", "--top", "0", "--format", "json"});
  REQUIRE(only_cache["rows"].size() == 1);
  CHECK(only_cache["rows"][0]["key"]["function"] == "cache(int)");
  ProcessResult none = run_process({tool_path(), "report", capture, "--include", "nomatch*", "--include", "cache"});
  CHECK(none.status() == 0);
  CHECK(none.err.empty());  // 'cache' matched
  none = run_process({tool_path(), "report", capture, "--include", "nomatch*"});
  CHECK(none.status() == 0);
  CHECK(none.err ==
        "measure: warning: the report shows no call site: --include 'nomatch*' matched no frame (patterns match a "
        "function's name, qualified or not, a source file or a module)\n");
  none = run_process({tool_path(), "diff", capture, capture, "--include", "cache", "--exclude", "main"});
  CHECK(none.err.find("measure: warning: the diff shows no call site: --exclude left out every stack") == 0);
}

TEST_CASE("measure run reads the program's files while it runs: a program deleted before it ends is still named") {
  // The program removes its own file half a second in, as a rebuild during a long run
  // would; the files were read while it slept, so its capture still gets their symbols.
  TempDir dir;
  std::string source = app_source(false, 0);
  source.replace(source.find("int main() {\n"), 13,
                 "#include <unistd.h>\nint main(int, char** argv) {\n  usleep(500000);\n  unlink(argv[0]);\n");
  build(dir, source);
  ProcessResult r = run_process({tool_path(), "run", "-o", dir.file("run.msr"), "--", dir.file("app")});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  CHECK_FALSE(fs::exists(dir.file("app")));
  CHECK(r.err.find("could not be read") == std::string::npos);
  json report = tool_json({"report", dir.file("run.msr"), "--top", "0", "--format", "json"});
  CHECK(report["symbols"]["file_modules"] == 0);
  std::map<std::string, std::uint64_t> bytes;
  for (const json& row : report["rows"]) {
    if (row["key"]["function"].is_string()) {
      bytes[row["key"]["function"].get<std::string>()] += row["alloc_bytes"].get<std::uint64_t>();
    }
  }
  CHECK(bytes["parse(int)"] == 10 * 100);
  CHECK(bytes["render(int)"] == 20 * 200);
  CHECK(bytes["cache(int)"] == 5 * 300);
}

TEST_CASE("measure symbolize completes a capture written without measure run, and twice changes nothing") {
  TempDir dir;
  build(dir, app_source(false, 0));
  std::string preload = (fs::path(tool_path()).parent_path() / "../lib/libmeasure_preload.so").lexically_normal();
  ProcessResult r = run_process({dir.file("app")}, {{"LD_PRELOAD", preload}, {"MEASURE_OUTPUT", dir.file("raw.msr")}});
  REQUIRE(r.status() == 0);
  fs::copy_file(dir.file("raw.msr"), dir.file("kept_raw.msr"));

  json from_files = tool_json({"report", dir.file("raw.msr"), "--format", "json"});
  CHECK(from_files["symbols"]["stored_modules"] == 0);
  CHECK(from_files["symbols"]["file_modules"].get<int>() >= 1);

  ProcessResult first = run_process({tool_path(), "symbolize", dir.file("raw.msr")});
  CHECK(first.status() == 0);
  CHECK(first.err.find("stored symbols for ") != std::string::npos);
  std::string once = read_text(dir.file("raw.msr"));
  ProcessResult second = run_process({tool_path(), "symbolize", dir.file("raw.msr")});
  CHECK(second.status() == 0);
  CHECK(second.err ==
        "measure: " + dir.file("raw.msr") + ": nothing to add; the capture already carries its symbols\n");
  CHECK(read_text(dir.file("raw.msr")) == once);

  fs::remove(dir.file("app"));
  json stored = tool_json({"report", dir.file("raw.msr"), "--top", "0", "--format", "json"});
  json unstored = tool_json({"report", dir.file("kept_raw.msr"), "--top", "0", "--format", "json"});
  CHECK(stored["symbols"]["file_modules"] == 0);
  CHECK(unstored["symbols"]["missing_modules"] == 1);  // the deleted program
  auto functions = [](const json& report) {
    std::vector<std::string> names;
    for (const json& row : report["rows"]) {
      names.push_back(row["key"]["function"].is_string() ? row["key"]["function"].get<std::string>() : "?");
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  std::vector<std::string> named = functions(stored);
  CHECK(std::find(named.begin(), named.end(), "parse(int)") != named.end());
  CHECK(std::find(named.begin(), named.end(), "render(int)") != named.end());
  std::vector<std::string> unnamed = functions(unstored);
  CHECK(std::find(unnamed.begin(), unnamed.end(), "parse(int)") == unnamed.end());
  ProcessResult text = run_process({tool_path(), "report", dir.file("kept_raw.msr")});
  CHECK(text.out.find("1 module is missing on this machine and not stored in the capture") != std::string::npos);

  // A symbolize where the module is gone says what it could not do, and changes nothing.
  ProcessResult late = run_process({tool_path(), "symbolize", dir.file("kept_raw.msr")});
  CHECK(late.status() == 0);
  CHECK(late.err.find("could not be read here") != std::string::npos);
  check_one_line_error(run_process({tool_path(), "symbolize", dir.file("missing.msr")}), "missing.msr");
}

TEST_CASE("report A B C and merge add the captures of a --follow-forks run") {
  TempDir dir;
  ProcessResult r = run_process(
      {tool_path(), "run", "-q", "--follow-forks", "-o", dir.file("f.%p.msr"), "--", fixture_path("fork_child"), "3"});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  std::vector<std::string> parts;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    parts.push_back(entry.path().string());
  }
  std::sort(parts.begin(), parts.end());
  REQUIRE(parts.size() == 4);  // the parent and three children

  json sum = json::object();
  int child_site = marker_line("tests/hostile/fork_child.c", "child_alloc");
  std::uint64_t child_blocks = 0;
  for (const std::string& part : parts) {
    json one = tool_json({"report", part, "--top", "0", "--format", "json"});
    for (auto& [metric, value] : one["totals"].items()) {
      sum[metric] = sum.value(metric, 0) + value.get<std::uint64_t>();
    }
    for (const json& row : one["rows"]) {
      if (row["key"]["line"] == child_site) {
        child_blocks += row["alloc_count"].get<std::uint64_t>();
      }
    }
  }
  CHECK(child_blocks == 9);

  std::vector<std::string> args = {"report"};
  args.insert(args.end(), parts.begin(), parts.end());
  args.insert(args.end(), {"--top", "0", "--format", "json"});
  json together = tool_json(args);
  CHECK(together["totals"] == sum);
  CHECK(together["program"]["merged_captures"] == 4);

  std::vector<std::string> merge = {tool_path(), "merge", "-o", dir.file("all.msr")};
  merge.insert(merge.end(), parts.begin(), parts.end());
  ProcessResult merged = run_process(merge);
  REQUIRE_MESSAGE(merged.status() == 0, merged.err);
  CHECK(merged.err.find("merged 4 captures") != std::string::npos);
  json all = tool_json({"report", dir.file("all.msr"), "--top", "0", "--format", "json"});
  CHECK(all["totals"] == sum);
  bool found = false;
  for (const json& row : all["rows"]) {
    if (row["key"]["line"] == child_site) {
      found = true;
      CHECK(row["alloc_count"] == 9);  // one row for the call site of all three children
      CHECK(row["stacks"] == 3);
    }
  }
  CHECK(found);
  // A merged capture diffs like any other: against itself, all same.
  json d = tool_json({"diff", dir.file("all.msr"), dir.file("all.msr"), "--top", "0", "--format", "json"});
  CHECK(d["counts"]["same"] == d["rows"].size());
  ProcessResult text = run_process({tool_path(), "report", dir.file("all.msr")});
  CHECK(text.out.find("4 processes merged (first: pid ") != std::string::npos);
  CHECK(text.out.find("Note: merged from 4 captures: pid ") != std::string::npos);

  // Captures of different modes do not add up.
  std::string sampled = dir.file("s.msr");
  REQUIRE(run_process({tool_path(), "run", "-q", "--mode", "sampled", "-o", sampled, "--", fixture_path("alloc_c")})
              .status() == 0);
  check_one_line_error(run_process({tool_path(), "report", parts.front(), sampled}), "their metrics mean different");
  check_one_line_error(run_process({tool_path(), "merge", "-o", dir.file("x.msr")}), "merge");
}
