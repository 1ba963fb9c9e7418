// `measure report --format pprof` read by an independent decoder (the npm package
// pprof-format, installed by the test): sample types, function names, lines and values must
// be exactly the fixture's, for a capture of `measure run` and for an imported heaptrack file.
#include <filesystem>
#include <map>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "integrations/npm_package.h"
#include "support/checks.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::marker_line;
using measure::test::npm_package;
using measure::test::ProcessResult;
using measure::test::run_node;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
using nlohmann::json;

namespace {

const char* const fixture_source = "tests/integrations/heaptrack_fixture.cpp";

// The profile as pprof-format decodes it.
json decode(const std::string& capture, const std::string& profile) {
  ProcessResult r = run_process({tool_path(), "report", capture, "--format", "pprof", "-o", profile});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return json::parse(run_node("tests/integrations/pprof_decode.mjs", {npm_package("pprof-format", "2.3.2"), profile}));
}

// Each sample's values summed by the fixture function it is attributed to (its innermost
// frame in the fixture's source).
std::map<std::string, std::vector<std::int64_t>> by_function(const json& profile) {
  std::map<std::string, std::vector<std::int64_t>> sums;
  for (const json& sample : profile["samples"]) {
    for (const json& frame : sample["frames"]) {
      if (frame["file"].get<std::string>().ends_with("heaptrack_fixture.cpp")) {
        std::vector<std::int64_t>& sum = sums[frame["function"]];
        sum.resize(4);
        for (std::size_t i = 0; i < 4; ++i) {
          sum[i] += sample["values"][i].get<std::int64_t>();
        }
        break;
      }
    }
  }
  return sums;
}

// heaptrack_fixture.cpp: alloc_objects, alloc_space, inuse_objects, inuse_space.
const std::map<std::string, std::vector<std::int64_t>> expected = {
    {"keep_blocks()", {10, 1000, 5, 500}}, {"churn(int)", {3, 120, 0, 0}},     {"zeroed()", {1, 100, 0, 0}},
    {"grow(void*)", {1, 200, 0, 0}},       {"peak_blocks()", {3, 3000, 0, 0}}, {"make_int(int)", {1, 4, 0, 0}},
};

void check_profile(const json& profile, const std::string& capture) {
  CHECK(profile["sample_types"] ==
        json::parse(R"([["alloc_objects","count"],["alloc_space","bytes"],["inuse_objects","count"],)"
                    R"(["inuse_space","bytes"]])"));
  CHECK(profile["default_sample_type"] == "alloc_space");
  CHECK(by_function(profile) == expected);
  // The inlined frame and its caller: one location, two lines, in pprof's order.
  bool found = false;
  for (const json& sample : profile["samples"]) {
    const json& frames = sample["frames"];
    if (!frames.empty() && frames[0]["function"] == "make_int(int)") {
      found = true;
      CHECK(frames[0]["line"] == marker_line(fixture_source, "make_int"));
      CHECK(frames[1]["function"] == "inlined_caller()");
      CHECK(frames[1]["line"] == marker_line(fixture_source, "inlined_call"));
      CHECK(frames[2]["function"] == "main");
    }
  }
  CHECK(found);
  // Every allocation is in some sample: the values add up to the report's totals.
  ProcessResult r = run_process({tool_path(), "report", capture, "--format", "json"});
  REQUIRE(r.status() == 0);
  json totals = json::parse(r.out)["totals"];
  std::vector<std::int64_t> sum(4);
  for (const json& sample : profile["samples"]) {
    for (std::size_t i = 0; i < 4; ++i) {
      sum[i] += sample["values"][i].get<std::int64_t>();
    }
  }
  CHECK(sum == std::vector<std::int64_t>{totals["alloc_count"], totals["alloc_bytes"], totals["live_count"],
                                         totals["live_bytes"]});
}

}  // namespace

TEST_CASE("pprof-format decodes a capture of measure run: sample types, functions and values exactly") {
  TempDir dir;
  ProcessResult run =
      run_process({tool_path(), "run", "-q", "-o", dir.file("run.msr"), "--", fixture_path("heaptrack_fixture")});
  REQUIRE_MESSAGE(run.status() == 0, run.err);
  check_profile(decode(dir.file("run.msr"), dir.file("run.pb.gz")), dir.file("run.msr"));
}

TEST_CASE("pprof-format decodes an imported heaptrack recording the same way") {
  TempDir dir;
  ProcessResult record = run_process({"heaptrack", "-o", dir.file("recording"), fixture_path("heaptrack_fixture")});
  REQUIRE_MESSAGE(record.status() == 0, record.err);
  ProcessResult import =
      run_process({tool_path(), "import", dir.file("recording.zst"), "-o", dir.file("imported.msr")});
  REQUIRE_MESSAGE(import.status() == 0, import.err);
  check_profile(decode(dir.file("imported.msr"), dir.file("imported.pb.gz")), dir.file("imported.msr"));
}
