// A stretch of time end to end: a fixture with three phases 200 ms apart, under the real
// preload. Its capture's intervals add up to its call sites exactly, and `measure report
// --from/--to` shows each phase with the fixture's own numbers.
#include <map>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "format/capture.h"
#include "support/checks.h"
#include "support/subprocess.h"

using measure::test::check_one_line_error;
using measure::test::fixture_path;
using measure::test::ProcessResult;
using measure::test::rows_by_function;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
using nlohmann::json;

namespace {

std::string record(TempDir& dir, const std::string& name, const std::vector<std::string>& options = {},
                   const std::vector<std::pair<std::string, std::string>>& env = {}) {
  std::string path = dir.file(name);
  std::vector<std::string> argv = {tool_path(), "run", "-q", "-o", path};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {"--", fixture_path("phases_shape")});
  ProcessResult r = run_process(argv, env);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return path;
}

json report(const std::string& path, std::initializer_list<std::string> options) {
  std::vector<std::string> argv = {tool_path(), "report", path, "--format", "json", "--by", "function", "--top", "0"};
  argv.insert(argv.end(), options);
  ProcessResult r = run_process(argv);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return json::parse(r.out);
}

void check_row(const std::map<std::string, json>& rows, const std::string& function, std::uint64_t alloc_count,
               std::uint64_t alloc_bytes, std::uint64_t free_count, std::uint64_t freed_bytes, std::uint64_t live_count,
               std::uint64_t live_bytes) {
  CAPTURE(function);
  REQUIRE(rows.count(function) == 1);
  const json& r = rows.at(function);
  CHECK(r["alloc_count"] == alloc_count);
  CHECK(r["alloc_bytes"] == alloc_bytes);
  CHECK(r["free_count"] == free_count);
  CHECK(r["freed_bytes"] == freed_bytes);
  CHECK(r["live_count"] == live_count);
  CHECK(r["live_bytes"] == live_bytes);
  CHECK(r["peak_bytes"].is_null());
  CHECK(r["temporary_count"].is_null());
}

}  // namespace

TEST_CASE("intervals: every stack's changes add up to its call site, in time order, bounded in number") {
  TempDir dir;
  measure::Capture c = measure::read_capture(record(dir, "phases.msr"));
  REQUIRE(!c.intervals.empty());
  // 500 ms from 1 ms intervals: merged in pairs at 64, so between 32 and 64 remain.
  CHECK(c.intervals.size() <= 64);
  CHECK(c.intervals.size() >= 16);
  std::map<std::uint32_t, measure::Metrics> sums;
  std::uint64_t previous = 0;
  for (const measure::CaptureInterval& v : c.intervals) {
    CHECK(v.end_ns >= previous);
    previous = v.end_ns;
    CHECK(v.toolkit_bytes > 0);
    for (const measure::IntervalChange& change : v.changes) {
      measure::Metrics& m = sums[change.stack];
      m.alloc_count += change.alloc_count;
      m.alloc_bytes += change.alloc_bytes;
      m.free_count += change.free_count;
      m.freed_bytes += change.freed_bytes;
    }
  }
  CHECK(previous <= c.program.duration_ns + 50'000'000);
  CHECK(previous >= 450'000'000);
  REQUIRE(sums.size() == c.sites.size());
  for (const measure::Site& s : c.sites) {
    CAPTURE(s.stack);
    const measure::Metrics& m = sums[s.stack];
    CHECK(m.alloc_count == s.metrics.alloc_count);
    CHECK(m.alloc_bytes == s.metrics.alloc_bytes);
    CHECK(m.free_count == s.metrics.free_count);
    CHECK(m.freed_bytes == s.metrics.freed_bytes);
  }
}

TEST_CASE("--from/--to: each phase with the fixture's numbers, live at the range's highest point") {
  TempDir dir;
  std::string path = record(dir, "phases.msr");

  // The first phase only (before 100 ms): early()'s blocks, all live.
  json first = report(path, {"--to", "100ms"});
  CHECK(first["range"]["from_ns"] == 0);
  CHECK(first["range"]["first_interval"] == 0);
  CHECK(first["range"]["to_ns"].get<std::uint64_t>() >= 100'000'000);
  CHECK(first["range"]["to_ns"].get<std::uint64_t>() < 200'000'000);
  auto rows = rows_by_function(first);
  check_row(rows, "early", 100, 100'000, 0, 0, 100, 100'000);
  CHECK(rows.count("middle") == 0);
  CHECK(rows.count("late") == 0);
  CHECK(first["totals"]["alloc_count"] == 100);
  CHECK(first["totals"]["alloc_bytes"] == 100'000);

  // The middle phase: the threads' temporaries and kept blocks; early()'s blocks still live.
  json middle = report(path, {"--from", "0.15", "--to", "0.3s"});
  rows = rows_by_function(middle);
  check_row(rows, "middle", 2 * 510, 2 * (500 * 64 + 10 * 4096), 2 * 500, 2 * 500 * 64, 20, 20 * 4096);
  check_row(rows, "early", 0, 0, 0, 0, 100, 100'000);
  CHECK(rows.count("late") == 0);
  CHECK(middle["range"]["from_ns"].get<std::uint64_t>() <= 150'000'000);
  CHECK(middle["range"]["to_ns"].get<std::uint64_t>() >= 300'000'000);
  CHECK(middle["range"]["live_at_ns"].get<std::uint64_t>() >= middle["range"]["from_ns"].get<std::uint64_t>());
  CHECK(middle["range"]["live_at_ns"].get<std::uint64_t>() <= middle["range"]["to_ns"].get<std::uint64_t>());

  // The last phase, to the end: early()'s frees and late()'s blocks, live at the end.
  json last = report(path, {"--from", "350ms"});
  rows = rows_by_function(last);
  check_row(rows, "late", 3, 300'000, 0, 0, 3, 300'000);
  check_row(rows, "early", 0, 0, 100, 100'000, 0, 0);
  check_row(rows, "middle", 0, 0, 0, 0, 20, 20 * 4096);
  CHECK(last["range"]["last_interval"].get<std::uint64_t>() + 1 == last["range"]["intervals"].get<std::uint64_t>());

  // The whole run as a range: the sums of the whole report (live: at the highest point).
  json all = report(path, {"--from", "0"});
  json whole = report(path, {});
  for (const char* metric : {"alloc_count", "alloc_bytes", "free_count", "freed_bytes"}) {
    CAPTURE(metric);
    CHECK(all["totals"][metric] == whole["totals"][metric]);
  }
  CHECK(whole["range"].is_null());

  // An instant names the interval that holds it.
  json instant = report(path, {"--from", "50ms", "--to", "50ms"});
  CHECK(instant["range"]["first_interval"] == instant["range"]["last_interval"]);

  // The text report says which stretch it shows.
  ProcessResult text = run_process({tool_path(), "report", path, "--from", "0.15", "--to", "0.3"});
  REQUIRE(text.status() == 0);
  CHECK(text.out.find("only (intervals ") != std::string::npos);
  CHECK(text.out.find("the range's highest point: ") != std::string::npos);
}

TEST_CASE("--from/--to: bad times and captures without intervals get one line and exit status 2") {
  TempDir dir;
  std::string path = record(dir, "phases.msr");
  check_one_line_error(run_process({tool_path(), "report", path, "--from", "soon"}), "not a time since the start");
  check_one_line_error(run_process({tool_path(), "report", path, "--from", "1.5.2s"}), "not a time since the start");
  check_one_line_error(run_process({tool_path(), "report", path, "--from", "-1"}), "not a time since the start");
  check_one_line_error(run_process({tool_path(), "report", path, "--from", "60s"}), "the recording ends at");
  check_one_line_error(run_process({tool_path(), "report", path, "--from", "0.3", "--to", "0.1"}), "is after --to");
  check_one_line_error(run_process({tool_path(), "report", path, "--from", "0", "--sort", "peak"}),
                       "kept for the whole run");
  check_one_line_error(run_process({tool_path(), "report", path, "--scope", "x", "--from", "0"}), "cannot be combined");
  std::string sampled = record(dir, "sampled.msr", {"--mode", "sampled"});
  check_one_line_error(run_process({tool_path(), "report", sampled, "--from", "0"}), "recorded in sampled mode");
  std::string off = record(dir, "off.msr", {}, {{"MEASURE_INTERVALS", "0"}});
  CHECK(measure::read_capture(off).intervals.empty());
  check_one_line_error(run_process({tool_path(), "report", off, "--to", "1s"}), "has no intervals of time");
  // Two captures added together have no common clock.
  check_one_line_error(run_process({tool_path(), "report", path, path, "--from", "0"}), "has no intervals of time");
}
