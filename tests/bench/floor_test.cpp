// The benchmark's floor preload (bench/floor/floor_preload.c) must count what counters mode
// counts, or the floor it shows in docs/performance.md would compare different work. On the
// single-threaded C workload the two must agree exactly on the four totals. (With threads they
// differ by design: measure's own libraries add TLS modules, so every thread's dtv, which the
// program allocates, is larger under measure.)
#include <cstdio>
#include <fstream>
#include <string>

#include <doctest/doctest.h>

#include "format/capture.h"
#include "support/checks.h"
#include "support/subprocess.h"

using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;

namespace {

const std::string workloads = MEASURE_BENCH_WORKLOAD_DIR;

}  // namespace

TEST_CASE("floor_totals counts the allocations and frees that counters mode counts") {
  TempDir dir;
  std::vector<std::string> program = {workloads + "/churn", "--threads", "1", "--ops", "30000"};

  std::string totals_path = dir.file("floor.txt");
  auto floor =
      run_process(program, {{"LD_PRELOAD", workloads + "/floor_totals.so"}, {"MEASURE_FLOOR_OUTPUT", totals_path}});
  REQUIRE_MESSAGE(floor.status() == 0, floor.err);
  unsigned long long alloc_count = 0, alloc_bytes = 0, free_count = 0, freed_bytes = 0, missed = 0;
  unsigned shadow_bits = 0;
  std::ifstream in(totals_path);
  REQUIRE(static_cast<bool>(in >> alloc_count >> alloc_bytes >> free_count >> freed_bytes >> missed >> shadow_bits));
  CHECK(missed == 0);  // churn has no block with over 254 bytes of slack
  CHECK(shadow_bits == 47);

  std::string capture_path = dir.file("counters.msr");
  std::vector<std::string> argv = {tool_path(), "run", "-q", "--mode", "counters", "-o", capture_path, "--"};
  argv.insert(argv.end(), program.begin(), program.end());
  auto measured = run_process(argv);
  REQUIRE_MESSAGE(measured.status() == 0, measured.err);
  measure::Capture capture = measure::read_capture(capture_path);

  // 30,000 operations of at least one allocation each, and the program's own few blocks.
  CHECK(alloc_count > 30000);
  CHECK(alloc_count == capture.totals.alloc_count);
  CHECK(alloc_bytes == capture.totals.alloc_bytes);
  CHECK(free_count == capture.totals.free_count);
  CHECK(freed_bytes == capture.totals.freed_bytes);
}
