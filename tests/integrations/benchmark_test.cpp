// measure::BenchmarkMemoryManager in a real Google Benchmark program: the JSON output carries
// exactly the allocations, bytes and peaks its benchmarks are written to have.
#include <algorithm>
#include <map>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::ProcessResult;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
using nlohmann::json;

namespace {

struct Expected {
  double allocs_per_iter;
  std::int64_t bytes_per_iter;
  std::int64_t max_bytes_used;
  std::int64_t net_per_iter;
};

// benchmark_example.cpp's benchmarks, per iteration.
const std::map<std::string, Expected> expected = {
    {"BM_sum", {0, 0, 0, 0}},
    {"BM_malloc", {1, 64, 64, 0}},
    {"BM_reserve/100", {1, 400, 400, 0}},
    {"BM_reserve/1000", {1, 4000, 4000, 0}},
    {"BM_three_blocks", {3, 3000, 3000, 0}},
    {"BM_keep/iterations:10", {1, 32, 320, 32}},
};

std::vector<std::string> command() {
  return {fixture_path("benchmark_example"), "--benchmark_format=json", "--benchmark_min_time=0.01"};
}

std::map<std::string, json> runs(const ProcessResult& r) {
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  std::map<std::string, json> by_name;
  json document = json::parse(r.out);
  for (const json& run : document["benchmarks"]) {
    by_name[run["name"]] = run;
  }
  return by_name;
}

void check_exact(const std::map<std::string, json>& results) {
  REQUIRE(results.size() == expected.size());
  for (const auto& [name, e] : expected) {
    std::string benchmark = name;  // Clang 14 cannot capture a structured binding in CAPTURE's lambda
    CAPTURE(benchmark);
    REQUIRE(results.count(name) == 1);
    const json& run = results.at(name);
    // Google Benchmark measures memory over one more run of min(16, iterations) iterations.
    std::int64_t n = std::min<std::int64_t>(16, run["iterations"].get<std::int64_t>());
    CHECK(run["allocs_per_iter"].get<double>() == e.allocs_per_iter);
    CHECK(run["total_allocated_bytes"].get<std::int64_t>() == e.bytes_per_iter * n);
    CHECK(run["max_bytes_used"].get<std::int64_t>() == e.max_bytes_used);
    CHECK(run["net_heap_growth"].get<std::int64_t>() == e.net_per_iter * n);
  }
}

}  // namespace

TEST_CASE("Google Benchmark reports each benchmark's exact allocations, bytes and peak") {
  ProcessResult r = run_process(command());
  check_exact(runs(r));
  CHECK(r.err.empty());
}

TEST_CASE("under measure run the preloaded runtime answers, and nothing is counted twice") {
  TempDir dir;
  std::vector<std::string> argv = {tool_path(), "run", "-q", "-o", dir.file("bench.msr"), "--"};
  std::vector<std::string> program = command();
  argv.insert(argv.end(), program.begin(), program.end());
  check_exact(runs(run_process(argv)));
}

TEST_CASE("with tracing off every figure is 0 and the manager says why, once") {
  ProcessResult r = run_process(command(), {{"MEASURE_MODE", "off"}});
  for (const auto& [name, run] : runs(r)) {
    std::string benchmark = name;  // Clang 14 cannot capture a structured binding in CAPTURE's lambda
    CAPTURE(benchmark);
    CHECK(run["allocs_per_iter"].get<double>() == 0);
    CHECK(run["max_bytes_used"] == 0);
    CHECK(run["total_allocated_bytes"] == 0);
  }
  CHECK(r.err.find("measure: allocations are not traced") == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}
