// Under an address-space limit (RLIMIT_AS, `ulimit -v`) a measured program must be able to
// allocate nearly what it can natively (fixture: tests/hostile/address_space.c, 1 MiB blocks
// until malloc fails): the runtime reserves address space as it uses it, so its own share is a
// few MiB. In every mode the measured program gets at least 95% of its native blocks, exits as
// natively, and leaves a capture that counts every block it got. Under a limit that leaves the
// runtime next to nothing, it records what it can, says what it could not do, and the program
// still runs to its end.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support/side_by_side.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::TempDir;

namespace {

constexpr std::uint64_t limit_bytes = 256ULL << 20;

std::uint64_t blocks_in(const std::string& out) {
  return std::stoull(out.substr(0, out.find(' ')));
}

}  // namespace

TEST_CASE("under ulimit -v 256M a measured program allocates at least 95% of what it does natively") {
  TempDir dir;
  auto options = measure::test::reproducible_options(dir.path(), dir.path(), 60);
  options.address_space_limit = limit_bytes;
  auto native = measure::test::run_process_with({fixture_path("address_space")}, options);
  REQUIRE(native.status() == 0);
  std::uint64_t native_blocks = blocks_in(native.out);
  CAPTURE(native_blocks);
  CHECK(native_blocks > 200);  // the program itself needs a few MiB of its 256
  for (std::string mode : {"exact", "sampled", "counters"}) {
    CAPTURE(mode);
    auto measured = measure::test::run_measured({fixture_path("address_space")}, options, dir.file(mode + ".msr"),
                                                {"--mode", mode});
    CAPTURE(measured.err);
    REQUIRE(measured.status() == 0);
    CHECK(measured.err.empty());
    std::uint64_t measured_blocks = blocks_in(measured.out);
    CAPTURE(measured_blocks);
    CHECK(measured_blocks * 100 >= native_blocks * 95);
    // The runtime kept recording to the end: every block the program got is in the capture.
    auto report =
        measure::test::run_process({measure::test::tool_path(), "report", dir.file(mode + ".msr"), "--format", "json"});
    REQUIRE(report.status() == 0);
    nlohmann::json j = nlohmann::json::parse(report.out);
    CHECK(j["totals"]["alloc_bytes"].get<std::uint64_t>() >= measured_blocks << 20);
    CHECK(j["dropped"]["dropped_events"] == 0);
  }
}

TEST_CASE("under a limit that leaves the runtime next to nothing, the program still runs to its end") {
  // The limit: what the program maps at its start natively, plus 1 MiB. The preload and its
  // libraries fit (with 0.6 MiB the loader cannot map them); the runtime's background thread and
  // its capture at exit do not.
  TempDir dir;
  auto options = measure::test::reproducible_options(dir.path(), dir.path(), 60);
  auto size = measure::test::run_process_with({fixture_path("address_space"), "--size"}, options);
  REQUIRE(size.status() == 0);
  options.address_space_limit = (std::stoull(size.out) + 1024) * 1024;
  auto native = measure::test::run_process_with({fixture_path("address_space")}, options);
  REQUIRE(native.status() == 0);
  options.env.emplace_back("LD_PRELOAD", measure::test::preload_path());
  options.env.emplace_back("MEASURE_OUTPUT", dir.file("tight.msr"));
  auto measured = measure::test::run_process_with({fixture_path("address_space")}, options);
  CAPTURE(native.out);
  CAPTURE(measured.err);
  CHECK(measured.status() == 0);
  CHECK(measured.out.ends_with(" blocks of 1 MiB\n"));
  CHECK(blocks_in(measured.out) <= blocks_in(native.out));
  // Whatever the runtime could not do, it said, one line each.
  std::size_t line = 0;
  while (line < measured.err.size()) {
    CHECK(measured.err.compare(line, 9, "measure: ") == 0);
    line = measured.err.find('\n', line) + 1;
    REQUIRE(line != 0);
  }
}
