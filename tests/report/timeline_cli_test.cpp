// The timeline end to end: a program with a known shape of live bytes over time, under the
// real preload; its capture's timeline in JSON, the text chart and timeline-svg.
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

constexpr std::uint64_t big = 8u << 20;

std::string capture(TempDir& dir, const std::vector<std::pair<std::string, std::string>>& env = {}) {
  std::string path = dir.file("shape.msr");
  ProcessResult r = run_process({tool_path(), "run", "-q", "-o", path, "--", fixture_path("timeline_shape")}, env);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return path;
}

json report_json(const std::string& path) {
  ProcessResult r = run_process({tool_path(), "report", path, "--format", "json"});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return json::parse(r.out);
}

}  // namespace

TEST_CASE("timeline: live bytes and resident memory over the run, with the exact peak") {
  TempDir dir;
  json r = report_json(capture(dir));
  const json& t = r["timeline"];
  REQUIRE(t.is_object());
  const json& samples = t["samples"];
  REQUIRE(samples.size() >= 2);

  // The peak is the account's, exact: the same as the totals'.
  std::uint64_t peak = t["peak"]["bytes"];
  CHECK(peak == r["totals"]["peak_bytes"]);
  CHECK(peak >= big + 100);
  CHECK(t["peak"]["after_ns"] <= t["peak"]["before_ns"]);
  CHECK(t["peak"]["before_ns"].get<std::uint64_t>() <= r["program"]["duration_ns"].get<std::uint64_t>());

  std::uint64_t previous = 0;
  std::uint64_t highest_live = 0;
  std::uint64_t highest_resident = 0;
  for (const json& s : samples) {
    CAPTURE(s);
    std::uint64_t time = s[0];
    CHECK(time >= previous);
    previous = time;
    CHECK(s[1].get<std::uint64_t>() <= peak);
    highest_live = std::max<std::uint64_t>(highest_live, s[1]);
    highest_resident = std::max<std::uint64_t>(highest_resident, s[2]);
  }
  // The 8 MiB were live for 300 ms of 1 ms samples, and resident (touched).
  CHECK(highest_live >= big);
  CHECK(highest_resident >= big);
  // The last point is taken when the capture is written at exit: exactly what leaked.
  CHECK(samples.back()[1] == r["totals"]["live_bytes"]);
  CHECK(samples.back()[1] == 100);
  CHECK(samples.back()[0].get<std::uint64_t>() >= 400000000);
  CHECK(t["interval_ns"] == 1000000);  // 400 ms is far from 1,024 points of 1 ms

  ProcessResult text = run_process({tool_path(), "report", dir.file("shape.msr")});
  REQUIRE(text.status() == 0);
  CAPTURE(text.out);
  CHECK(text.out.find("Live bytes over ") != std::string::npos);
  CHECK(text.out.find("(peak 8.0 MiB between ") != std::string::npos);
  CHECK(text.out.find("▲") != std::string::npos);

  std::string svg = dir.file("timeline.svg");
  ProcessResult drawn =
      run_process({tool_path(), "report", dir.file("shape.msr"), "--format", "timeline-svg", "-o", svg});
  REQUIRE_MESSAGE(drawn.status() == 0, drawn.err);
  ProcessResult lint = run_process({"xmllint", "--noout", svg});
  CHECK_MESSAGE(lint.status() == 0, lint.err);
  CHECK(measure::test::read_text(svg).find(">peak 8.0 MiB</text>") != std::string::npos);
}

TEST_CASE("timeline: MEASURE_TIMELINE=0 records none, and timeline-svg says so") {
  TempDir dir;
  std::string path = capture(dir, {{"MEASURE_TIMELINE", "0"}});
  json r = report_json(path);
  CHECK(r["timeline"].is_null());
  CHECK(r["totals"]["peak_bytes"].get<std::uint64_t>() >= big + 100);  // the peak does not need it

  ProcessResult text = run_process({tool_path(), "report", path});
  CHECK(text.out.find("Live bytes over ") == std::string::npos);
  check_one_line_error(run_process({tool_path(), "report", path, "--format", "timeline-svg"}),
                       "this capture has no timeline");
}
