// `measure import` on real heaptrack recordings: the installed heaptrack records a fixture
// with exactly known allocations, and the imported capture must hold exactly those counts,
// agree with what heaptrack_print itself reports, and work with report and diff.
#include <filesystem>
#include <map>
#include <sstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "format/capture.h"
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

namespace {

const char* const fixture_source = "tests/integrations/heaptrack_fixture.cpp";

// Records the fixture with heaptrack; returns the data file it wrote (.zst when the zstd
// command is installed, as heaptrack prefers it).
std::string record(const TempDir& dir, const std::string& name, const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv = {"heaptrack", "-o", dir.file(name), fixture_path("heaptrack_fixture")};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = run_process(argv);
  REQUIRE_MESSAGE(r.status() == 0, r.out << r.err);
  for (const char* suffix : {".zst", ".gz"}) {
    if (std::filesystem::exists(dir.file(name + suffix))) {
      return dir.file(name + suffix);
    }
  }
  FAIL("heaptrack wrote no data file: " << r.out << r.err);
  return {};
}

std::string import(const std::string& recording, const std::string& capture) {
  ProcessResult r = run_process({tool_path(), "import", recording, "-o", capture});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("measure: imported ", 0) == 0);
  return capture;
}

json report(const std::string& capture, const std::string& by) {
  ProcessResult r = run_process({tool_path(), "report", capture, "--by", by, "--top", "0", "--format", "json"});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return json::parse(r.out);
}

// heaptrack_print's own numbers for one cost type (its flame graph stacks: "frame (file);
// frame (file); VALUE", outermost first), summed by the frame main() calls.
std::map<std::string, std::uint64_t> heaptrack_print(const TempDir& dir, const std::string& recording,
                                                     const std::string& cost) {
  std::string stacks = dir.file("stacks-" + cost + ".txt");
  ProcessResult r = run_process({"heaptrack_print", "-f", recording, "--flamegraph-cost-type", cost, "-F", stacks});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  std::map<std::string, std::uint64_t> costs;
  std::istringstream lines(read_text(stacks));
  for (std::string line; std::getline(lines, line);) {
    std::size_t main = line.find("main (");
    std::size_t value = line.rfind("; ");
    if (main == std::string::npos || value == std::string::npos) {
      continue;  // the loader's and the C++ runtime's own allocations
    }
    std::size_t start = line.find(';', main) + 1;
    std::string function = line.substr(start, line.find(" (", start) - start);
    costs[function] += std::stoull(line.substr(value + 2));
  }
  return costs;
}

struct Expected {
  const char* function;
  std::uint64_t allocs, bytes, frees, freed, leaked_count, leaked, peak, temporary;
};

// What the fixture does (heaptrack_fixture.cpp), with temporary as heaptrack defines it.
const Expected expected[] = {
    {"keep_blocks()", 10, 1000, 5, 500, 5, 500, 500, 1},
    {"churn(int)", 3, 120, 3, 120, 0, 0, 0, 3},
    {"zeroed()", 1, 100, 1, 100, 0, 0, 0, 1},
    {"grow(void*)", 1, 200, 1, 200, 0, 0, 0, 1},
    {"peak_blocks()", 3, 3000, 3, 3000, 0, 0, 3000, 0},
    {"make_int(int)", 1, 4, 1, 4, 0, 0, 0, 1},
};

}  // namespace

TEST_CASE("an imported heaptrack recording holds the fixture's allocations exactly, as heaptrack_print counts them") {
  TempDir dir;
  std::string recording = record(dir, "fixture");
  json r = report(import(recording, dir.file("fixture.msr")), "function");
  std::map<std::string, json> rows = measure::test::rows_by_function(r);
  for (const Expected& e : expected) {
    CAPTURE(e.function);
    REQUIRE(rows.count(e.function) == 1);
    const json& row = rows[e.function];
    CHECK(row["alloc_count"] == e.allocs);
    CHECK(row["alloc_bytes"] == e.bytes);
    CHECK(row["free_count"] == e.frees);
    CHECK(row["freed_bytes"] == e.freed);
    CHECK(row["live_count"] == e.leaked_count);
    CHECK(row["live_bytes"] == e.leaked);
    CHECK(row["peak_bytes"] == e.peak);
    CHECK(row["temporary_count"] == e.temporary);
  }
  // heaptrack_print's own figures for the same recording, cost type by cost type.
  const std::pair<const char*, const char*> costs[] = {{"allocations", "alloc_count"},
                                                       {"leaked", "live_bytes"},
                                                       {"peak", "peak_bytes"},
                                                       {"temporary", "temporary_count"}};
  for (auto [cost, metric] : costs) {
    std::string printed_cost = cost;  // Clang 14 cannot capture a structured binding in CAPTURE's lambda
    CAPTURE(printed_cost);
    std::map<std::string, std::uint64_t> printed = heaptrack_print(dir, recording, cost);
    CHECK(printed.size() == std::size(expected));
    for (const auto& [function, value] : printed) {
      std::string printed_function = function;  // Clang 14 cannot capture a structured binding
      CAPTURE(printed_function);
      REQUIRE(rows.count(function) == 1);
      CHECK(rows[function][metric] == value);
    }
  }
  // The global peak is the sum of the sites' contributions (the C++ runtime's own pool
  // included), and the 3,000 bytes of peak_blocks were live at it.
  std::uint64_t contributions = 0;
  for (const json& row : r["rows"]) {
    contributions += row["peak_bytes"].get<std::uint64_t>();
  }
  CHECK(r["totals"]["peak_bytes"] == contributions);
  CHECK(r["totals"]["alloc_count"] >= 19);
  CHECK(r["program"]["argv"][0].get<std::string>().find("heaptrack_fixture") != std::string::npos);
}

TEST_CASE("heaptrack's symbols come along: lines, files and inlined frames") {
  TempDir dir;
  json r = report(import(record(dir, "fixture"), dir.file("fixture.msr")), "line");
  std::map<int, json> lines;
  for (const json& row : r["rows"]) {
    if (row["key"]["file"].is_string() && row["key"]["file"].get<std::string>().ends_with("heaptrack_fixture.cpp")) {
      lines[row["key"]["line"].get<int>()] = row;
    }
  }
  CHECK(lines[marker_line(fixture_source, "keep")]["alloc_count"] == 10);
  CHECK(lines[marker_line(fixture_source, "churn")]["alloc_bytes"] == 120);
  CHECK(lines[marker_line(fixture_source, "peak2")]["alloc_bytes"] == 1000);
  // new int inside the inlined make_int: its own line, then the line that called it.
  const json& inlined = lines[marker_line(fixture_source, "make_int")];
  REQUIRE(inlined["stack"].size() >= 3);
  CHECK(inlined["stack"][0]["function"] == "make_int(int)");
  CHECK(inlined["stack"][1]["function"] == "inlined_caller()");
  CHECK(inlined["stack"][1]["line"] == marker_line(fixture_source, "inlined_call"));
  CHECK(inlined["stack"][2]["function"] == "main");
}

TEST_CASE("measure's own temporary count differs from heaptrack's where its definition does") {
  // heaptrack: a free right after an allocation of the same size and stack. measure: a free
  // of the very block its thread allocated last. keep_blocks frees its first block right
  // after allocating the tenth: temporary for heaptrack, not for measure.
  TempDir dir;
  ProcessResult run =
      run_process({tool_path(), "run", "-q", "-o", dir.file("native.msr"), "--", fixture_path("heaptrack_fixture")});
  REQUIRE_MESSAGE(run.status() == 0, run.err);
  std::map<std::string, json> rows = measure::test::rows_by_function(report(dir.file("native.msr"), "function"));
  CHECK(rows["keep_blocks()"]["temporary_count"] == 0);
  CHECK(rows["keep_blocks()"]["alloc_count"] == 10);
  CHECK(rows["churn(int)"]["temporary_count"] == 3);
}

TEST_CASE("measure diff compares two heaptrack recordings call site by call site") {
  TempDir dir;
  std::string before = import(record(dir, "before"), dir.file("before.msr"));
  std::string after = import(record(dir, "after", {"2"}), dir.file("after.msr"));
  ProcessResult r = run_process({tool_path(), "diff", before, after, "--by", "function", "--format", "json"});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  json diff = json::parse(r.out);
  std::map<std::string, json> rows = measure::test::rows_by_function(diff);
  CHECK(rows["churn(int)"]["status"] == "changed");
  CHECK(rows["churn(int)"]["delta"]["alloc_count"] == 3);
  CHECK(rows["churn(int)"]["delta"]["alloc_bytes"] == 120);
  CHECK(rows["keep_blocks()"]["status"] == "same");
  // Every other row matches too, the C++ runtime's unnamed code included (by module: its
  // addresses differ between the two runs).
  for (const json& row : diff["rows"]) {
    CHECK(row["status"] == (row["key"]["function"] == "churn(int)" ? "changed" : "same"));
  }
  ProcessResult gate = run_process({tool_path(), "diff", before, after, "--fail-on-increase", "10"});
  CHECK(gate.status() == 1);
}

TEST_CASE("gzip, uncompressed and cut-off heaptrack files") {
  TempDir dir;
  std::string zst = record(dir, "fixture");
  REQUIRE(zst.ends_with(".zst"));
  std::string plain = dir.file("fixture.txt");
  REQUIRE(run_process({"sh", "-c", "zstd -dc \"$0\" > \"$1\" && gzip -c \"$1\" > \"$1.gz\"", zst, plain}).status() ==
          0);
  measure::Capture from_zst = measure::read_capture(import(zst, dir.file("zst.msr")));
  CHECK(measure::read_capture(import(plain, dir.file("plain.msr"))) == from_zst);
  CHECK(measure::read_capture(import(plain + ".gz", dir.file("gz.msr"))) == from_zst);
  CHECK((from_zst.program.flags & 1) == 1);  // complete

  // A recording cut off while it was written: imported up to its last complete line, and
  // marked incomplete in the capture and in every report.
  std::string text = read_text(plain);
  std::size_t half = text.find("\n+ ", text.size() / 2) + 1;  // a line boundary near the middle
  write_text(dir.file("cut.txt"), text.substr(0, half));
  measure::Capture cut = measure::read_capture(import(dir.file("cut.txt"), dir.file("cut.msr")));
  CHECK((cut.program.flags & 1) == 0);
  CHECK(cut.totals.alloc_count < from_zst.totals.alloc_count);
  ProcessResult shown = run_process({tool_path(), "report", dir.file("cut.msr")});
  CHECK(shown.out.find("the heaptrack recording is incomplete") != std::string::npos);
  // Two zstd frames, the second cut short: the first frame's lines are imported.
  write_text(dir.file("first"), text.substr(0, half));
  write_text(dir.file("second"), text.substr(half));
  REQUIRE(run_process({"sh", "-c", "cd \"$0\" && zstd -qc first > two.zst && zstd -qc second | head -c 20 >> two.zst",
                       dir.path()})
              .status() == 0);
  cut = measure::read_capture(import(dir.file("two.zst"), dir.file("two.msr")));
  CHECK((cut.program.flags & 1) == 0);
  CHECK(cut.totals.alloc_count > 0);
  CHECK(cut.totals.alloc_count < from_zst.totals.alloc_count);
}

TEST_CASE("bad heaptrack files: one line on stderr and exit status 2") {
  TempDir dir;
  auto import_error = [&](const std::string& file, const std::string& fragment) {
    CAPTURE(file);
    check_one_line_error(run_process({tool_path(), "import", file, "-o", dir.file("out.msr")}), fragment);
    CHECK_FALSE(std::filesystem::exists(dir.file("out.msr")));
  };
  import_error(dir.file("missing.zst"), "cannot open");
  write_text(dir.file("text"), "hello\n");
  import_error(dir.file("text"), "not a heaptrack data file");
  write_text(dir.file("newer"), "v 20000 9\n");
  import_error(dir.file("newer"), "heaptrack file format version 9 is newer");
  write_text(dir.file("raw"), "v 10400 3\nx 4 ./fx\nm 1 x 0 0 1000\n");
  import_error(dir.file("raw"), "raw heaptrack trace");
  write_text(dir.file("dangling"), "v 10400 3\ns 4 main\ni 1000 1 1\nt 1 0\na 10 5\n");
  import_error(dir.file("dangling"), "corrupt heaptrack data (line 5: trace 0x5 refers to nothing)");
  write_text(dir.file("free"), "v 10400 3\ni 1000 0\nt 1 0\na 10 1\n- 0\n");
  import_error(dir.file("free"), "line 5: a free of more than was allocated");
  write_text(dir.file("junk.zst"), std::string("\x28\xb5\x2f\xfd", 4) + std::string(64, 'x'));
  import_error(dir.file("junk.zst"), "corrupt zstd data");
  check_one_line_error(run_process({tool_path(), "import", dir.file("text")}), "--output is required");
}
