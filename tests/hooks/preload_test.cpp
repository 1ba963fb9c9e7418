// End to end: the fixtures run under `measure run` (the real preload), `measure report
// --format json` reads the capture, and every metric of every marked call site must equal
// what the fixture's source says it does.
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::run_process;
using measure::test::source_path;
using measure::test::TempDir;
using measure::test::tool_path;
using nlohmann::json;

namespace {

struct Expected {
  const char* marker;
  std::uint64_t alloc_count, alloc_bytes, free_count, freed_bytes, live_count, live_bytes, peak_bytes, temporary_count;
};

// The line of each "@marker" in a fixture's source.
std::map<std::string, int> marker_lines(const std::string& source) {
  std::map<std::string, int> lines;
  std::ifstream in(source);
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    auto at = text.find('@');
    if (at == std::string::npos) {
      continue;
    }
    auto end = text.find_first_of(" */", at);
    lines[text.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1)] = n;
  }
  return lines;
}

json report_json(const std::string& capture, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {tool_path(), "report", capture, "--top", "0", "--format", "json"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto r = run_process(argv);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return json::parse(r.out);
}

json capture_of(const std::string& fixture, TempDir& dir) {
  std::string capture = dir.file(fixture + ".msr");
  auto r = run_process({tool_path(), "run", "-q", "-o", capture, "--", fixture_path(fixture)});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  REQUIRE(std::filesystem::exists(capture));
  return report_json(capture);
}

// Rows of a --by line report, by source line of the given file.
std::map<int, json> rows_by_line(const json& report, const std::string& source) {
  std::map<int, json> rows;
  std::string canonical = std::filesystem::weakly_canonical(source).string();
  for (const json& row : report["rows"]) {
    const json& key = row["key"];
    if (key["file"].is_string() && std::filesystem::weakly_canonical(key["file"].get<std::string>()) == canonical) {
      rows[key["line"].get<int>()] = row;
    }
  }
  return rows;
}

void check_sites(const json& report, const std::string& source, const std::vector<Expected>& expected) {
  auto lines = marker_lines(source);
  auto rows = rows_by_line(report, source);
  for (const Expected& e : expected) {
    CAPTURE(e.marker);
    REQUIRE(lines.count(e.marker) == 1);
    int line = lines[e.marker];
    CAPTURE(line);
    REQUIRE(rows.count(line) == 1);
    const json& row = rows[line];
    CHECK(row["alloc_count"] == e.alloc_count);
    CHECK(row["alloc_bytes"] == e.alloc_bytes);
    CHECK(row["free_count"] == e.free_count);
    CHECK(row["freed_bytes"] == e.freed_bytes);
    CHECK(row["live_count"] == e.live_count);
    CHECK(row["live_bytes"] == e.live_bytes);
    CHECK(row["peak_bytes"] == e.peak_bytes);
    CHECK(row["temporary_count"] == e.temporary_count);
    // The row's stack starts at the fixture's own frame: the toolkit's and the allocator's
    // frames are gone.
    const json& top = row["stack"][0];
    CHECK(top["line"] == line);
    CHECK(top["function"].is_string());
  }
}

constexpr std::uint64_t big = 1U << 20;

}  // namespace

TEST_CASE("every C allocation entry point is attributed exactly to its call site") {
  TempDir dir;
  json report = capture_of("alloc_c", dir);
  // marker, alloc n/bytes, free n/bytes, live n/bytes, peak share, temporary
  check_sites(report, source_path("tests/fixtures/alloc_c.c"),
              {
                  {"c_malloc", 10, 1000, 10, 1000, 0, 0, 0, 10},
                  {"c_calloc", 5, 500, 5, 500, 0, 0, 500, 0},
                  {"c_realloc_source", 1, 10, 1, 10, 0, 0, 0, 1},
                  {"c_realloc", 1, 2000, 1, 2000, 0, 0, 2000, 0},
                  {"c_realloc_null", 1, 64, 1, 64, 0, 0, 64, 0},
                  {"c_realloc_zero_source", 1, 48, 1, 48, 0, 0, 0, 1},
                  {"c_reallocarray", 1, 128, 1, 128, 0, 0, 128, 0},
                  {"c_posix_memalign", 3, 600, 3, 600, 0, 0, 600, 0},
                  {"c_aligned_alloc", 2, 512, 2, 512, 0, 0, 512, 0},
                  {"c_memalign", 1, 96, 1, 96, 0, 0, 96, 0},
                  {"c_valloc", 1, 1000, 1, 1000, 0, 0, 1000, 0},
                  {"c_pvalloc", 1, 100, 1, 100, 0, 0, 100, 0},
                  {"c_leak", 3, 231, 0, 0, 3, 231, 231, 0},
                  {"c_peak", 1, big, 1, big, 0, 0, big, 1},
                  {"c_reallocarray_source", 1, 16, 1, 16, 0, 0, 0, 1},
                  {"c_reallocarray_grow", 1, 128, 1, 128, 0, 0, 0, 1},
              });
  // realloc(p, 0) only frees: its line allocates nothing and has no row.
  auto lines = marker_lines(source_path("tests/fixtures/alloc_c.c"));
  CHECK(rows_by_line(report, source_path("tests/fixtures/alloc_c.c")).count(lines["c_realloc_zero"]) == 0);
  CHECK(report["dropped"]["unmatched_frees"] == 0);
  CHECK(report["dropped"]["mismatched_frees"] == 0);
  CHECK(report["dropped"]["dropped_events"] == 0);
  CHECK(report["program"]["exit_status"] == 0);
  // The global peak is the moment the 1 MiB block was live together with everything held.
  CHECK(report["totals"]["peak_bytes"].get<std::uint64_t>() >=
        big + 500 + 2000 + 64 + 128 + 600 + 512 + 96 + 1000 + 100 + 231);
}

TEST_CASE("60,000 stacks on two threads: every stack's counters are summed over both, exactly") {
  // More stacks than a capture's writer sums at once, and ranges that overlap, so that a stack
  // both threads used is counted from both whichever part of the writer's pass it falls in.
  // The capture (about 6 MB) is written to its file in pieces as it is encoded.
  TempDir dir;
  json report = capture_of("many_stacks", dir);
  std::string source = source_path("tests/fixtures/many_stacks.c");
  int line = marker_lines(source)["leaf"];
  std::uint64_t alloc_count = 0, alloc_bytes = 0, free_count = 0, freed_bytes = 0;
  for (std::uint32_t begin : {0U, 15000U}) {
    for (std::uint32_t i = begin; i < begin + 45000; ++i) {
      std::uint64_t size = 16 + i % 64;
      ++alloc_count;
      alloc_bytes += size;
      if (i % 4 != 0) {
        ++free_count;
        freed_bytes += size;
      }
    }
  }
  auto rows = rows_by_line(report, source);
  REQUIRE(rows.count(line) == 1);
  const json& row = rows[line];
  CHECK(row["alloc_count"] == alloc_count);
  CHECK(row["alloc_bytes"] == alloc_bytes);
  CHECK(row["free_count"] == free_count);
  CHECK(row["freed_bytes"] == freed_bytes);
  CHECK(row["live_count"] == alloc_count - free_count);
  CHECK(row["live_bytes"] == alloc_bytes - freed_bytes);
  CHECK(row["temporary_count"] == free_count);

  // Each of the 60,000 paths is a stack of its own, and the overlap's stacks count twice.
  json stacks = report_json(dir.file("many_stacks.msr"), {"--by", "stack"});
  std::uint64_t leaf_stacks = 0, twice = 0, stack_allocations = 0;
  for (const json& r : stacks["rows"]) {
    if (r["stack"][0]["line"] != line) {
      continue;
    }
    ++leaf_stacks;
    twice += r["alloc_count"] == 2 ? 1 : 0;
    stack_allocations += r["alloc_count"].get<std::uint64_t>();
  }
  CHECK(leaf_stacks == 60000);
  CHECK(twice == 30000);
  CHECK(std::filesystem::file_size(dir.file("many_stacks.msr")) > (std::uintmax_t{4} << 20));
  CHECK(stack_allocations == alloc_count);
  CHECK(report["dropped"]["unknown_stacks"] == 0);
  CHECK(report["dropped"]["dropped_events"] == 0);
}

TEST_CASE("every replaceable operator new and delete is attributed exactly to its call site") {
  TempDir dir;
  json report = capture_of("alloc_cpp", dir);
  std::vector<Expected> expected = {
      {"new_scalar", 4, 96, 4, 96, 0, 0, 0, 4},
      {"new_array", 1, 300, 1, 300, 0, 0, 300, 0},
      {"new_nothrow", 1, 24, 1, 24, 0, 0, 24, 0},
      {"new_array_nothrow", 1, 50, 1, 50, 0, 0, 50, 0},
      {"new_aligned", 1, 64, 1, 64, 0, 0, 64, 0},
      {"new_array_aligned", 1, 192, 1, 192, 0, 0, 192, 0},
      {"new_aligned_nothrow", 1, 80, 1, 80, 0, 0, 80, 0},
      {"new_array_aligned_nothrow", 1, 90, 1, 90, 0, 0, 90, 0},
      {"new_leak", 1, 24, 0, 0, 1, 24, 24, 0},
      {"new_peak", 1, big, 1, big, 0, 0, big, 1},
      {"cxx_malloc", 1, 33, 1, 33, 0, 0, 0, 1},
  };
  for (int k = 1; k <= 12; ++k) {
    static std::vector<std::string> names(13);
    names[k] = "op_new_" + std::to_string(k);
    std::uint64_t size = static_cast<std::uint64_t>(10 + k);
    expected.push_back({names[k].c_str(), 1, size, 1, size, 0, 0, 0, 1});
  }
  check_sites(report, source_path("tests/fixtures/alloc_cpp.cpp"), expected);
  // Each delete reached the hook of its own family: a delete that fell through to free()
  // would count as mismatched.
  CHECK(report["dropped"]["mismatched_frees"] == 0);
  CHECK(report["dropped"]["unmatched_frees"] == 0);
  // libstdc++'s emergency exception pool is released before leaks are counted.
  CHECK(report["totals"]["live_bytes"].get<std::uint64_t>() < 8192);
}

TEST_CASE("grouping by function and file adds up the same call sites") {
  TempDir dir;
  std::string capture = dir.file("c.msr");
  REQUIRE(run_process({tool_path(), "run", "-q", "-o", capture, "--", fixture_path("alloc_c")}).status() == 0);
  json by_function = report_json(capture, {"--by", "function"});
  std::uint64_t temporaries = 0;
  std::uint64_t main_bytes = 0;
  for (const json& row : by_function["rows"]) {
    if (row["key"]["function"] == "temporaries") {
      temporaries = row["alloc_bytes"];
    }
    if (row["key"]["function"] == "main") {
      main_bytes = row["alloc_bytes"];
    }
    CHECK(row["key"]["line"].is_null());
  }
  CHECK(temporaries == 1000);
  CHECK(main_bytes == 500 + 10 + 2000 + 64 + 48 + 128 + 600 + 512 + 96 + 1000 + 100 + 231 + big + 16 + 128);
  json by_file = report_json(capture, {"--by", "file"});
  bool found = false;
  for (const json& row : by_file["rows"]) {
    if (row["key"]["file"].is_string() &&
        std::filesystem::path(row["key"]["file"].get<std::string>()).filename() == "alloc_c.c") {
      CHECK(row["alloc_bytes"] == main_bytes + temporaries);
      found = true;
    }
  }
  CHECK(found);
}

TEST_CASE("MEASURE_DEPTH limits stacks and the report says they were truncated") {
  TempDir dir;
  std::string capture = dir.file("shallow.msr");
  REQUIRE(
      run_process({tool_path(), "run", "-q", "--depth", "1", "-o", capture, "--", fixture_path("alloc_c")}).status() ==
      0);
  json report = report_json(capture);
  CHECK(report["dropped"]["truncated_stacks"].get<int>() > 0);
  for (const json& row : report["rows"]) {
    CHECK(row["stack"].size() <= 1);
  }
}

TEST_CASE("threads: concurrent allocation and frees by another thread stay exact") {
  TempDir dir;
  json report = capture_of("alloc_threads", dir);
  const std::uint64_t churn = 2 * 100000;
  check_sites(report, source_path("tests/fixtures/alloc_threads.cpp"),
              {
                  {"thread_churn", churn, churn * 32, churn, churn * 32, 0, 0, 0, churn},
                  {"thread_handover", 1000, 48000, 1000, 48000, 0, 0, 48000, 0},
                  {"threads_peak", 1, big, 1, big, 0, 0, big, 1},
              });
  CHECK(report["dropped"]["unmatched_frees"] == 0);
  CHECK(report["dropped"]["dropped_events"] == 0);
}

TEST_CASE("threads: an allocation that passes the peak counts another thread's blocks held under a lease") {
  TempDir dir;
  json report = capture_of("lease_peak", dir);
  constexpr std::uint64_t early = 8U << 20;
  constexpr std::uint64_t late = early - 50000;
  check_sites(report, source_path("tests/fixtures/lease_peak.cpp"),
              {
                  {"lease_held", 100, 100000, 100, 100000, 0, 0, 100000, 0},
                  {"lease_churn", 10000, 640000, 10000, 640000, 0, 0, 0, 10000},
                  {"lease_early_peak", 1, early, 1, early, 0, 0, 0, 1},
                  {"lease_late_peak", 1, late, 1, late, 0, 0, late, 1},
              });
  // The peak is the late block and the holder's blocks, plus what the C++ runtime keeps live
  // (its emergency exception pool, about 72 KiB), not the holder's headroom (about 2 MiB).
  auto peak = report["totals"]["peak_bytes"].get<std::uint64_t>();
  CHECK(peak >= late + 100000);
  CHECK(peak < late + 100000 + 128 * 1024);
  std::uint64_t at_peak = 0;  // every row's part of the peak, the program's and the runtime's
  for (const json& row : report["rows"]) {
    at_peak += row["peak_bytes"].get<std::uint64_t>();
  }
  CHECK(at_peak == peak);
}

TEST_CASE("exit: static destructors, atexit handlers and thread_local destructors are recorded") {
  TempDir dir;
  json report = capture_of("exit_order", dir);
  check_sites(report, source_path("tests/fixtures/exit_order.cpp"),
              {
                  {"exit_static_destructor", 1, 64, 1, 64, 0, 0, 64, 0},
                  {"exit_atexit_free", 1, 96, 1, 96, 0, 0, 96, 0},
                  {"exit_thread_local", 1, 128, 1, 128, 0, 0, 128, 0},
                  {"exit_atexit_leak", 1, 55, 0, 0, 1, 55, 0, 0},  // allocated after the peak
              });
  CHECK(report["dropped"]["unmatched_frees"] == 0);
}
