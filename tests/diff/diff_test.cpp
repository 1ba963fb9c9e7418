// measure diff on the synthetic captures: statuses, matching rules, order, thresholds, and
// the golden text, JSON and Markdown outputs.
#include "diff/diff.h"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "report/formats.h"
#include "support/error.h"
#include "support/synthetic.h"

using namespace measure;
using measure::test::check_golden;

namespace {

const Capture& before() {
  static const Capture c = test::synthetic_capture();
  return c;
}

const Capture& after() {
  static const Capture c = test::synthetic_capture_after();
  return c;
}

Diff diff_of(DiffOptions options, const Capture& a = before(), const Capture& b = after()) {
  FrameResolver symbols = test::synthetic_symbols();
  return build_diff(a, b, options, symbols, symbols);
}

const DiffRow& row_named(const Diff& d, const std::string& function, std::optional<std::uint32_t> line = {}) {
  for (const DiffRow& r : d.rows) {
    if (r.key.function == function && (!line || r.key.line == line)) {
      return r;
    }
  }
  FAIL("no row for " << function);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("diff: by line, a call site whose line moved is one row, moved") {
  DiffOptions options;
  options.top = 0;
  Diff d = diff_of(options);
  const DiffRow& parse = row_named(d, "parse_config(char const*)");
  CHECK(parse.status == DiffStatus::moved);
  CHECK(parse.key.line == 44u);
  REQUIRE(parse.old_key.has_value());
  CHECK(parse.old_key->line == 42u);
  CHECK(parse.delta == MetricsDelta{});
  const DiffRow& render = row_named(d, "render_page(int)");
  CHECK(render.status == DiffStatus::changed);
  CHECK_FALSE(render.old_key.has_value());
  CHECK(render.old_metrics->alloc_bytes == 64064);
  CHECK(render.new_metrics->alloc_bytes == 76864);
  CHECK(render.delta.alloc_bytes == 12800);
  CHECK(render.delta.alloc_count == 20);
  CHECK(render.delta.temporary_count == 10);
  const DiffRow& cache = row_named(d, "cache_insert(std::string const&)");
  CHECK(cache.status == DiffStatus::removed);
  CHECK_FALSE(cache.new_metrics.has_value());
  CHECK(cache.delta.alloc_bytes == -5000);
  CHECK(cache.delta.live_count == -5);
  CHECK(row_named(d, "log_line(char const*)").status == DiffStatus::added);
  // Largest absolute change of bytes first: +12800, -5000, +2560, then the unchanged rows.
  REQUIRE(d.rows.size() == 6);
  CHECK(d.rows[0].key.function == "render_page(int)");
  CHECK(d.rows[1].key.function == "cache_insert(std::string const&)");
  CHECK(d.rows[2].key.function == "log_line(char const*)");
  CHECK(d.rows[3].key.function == "parse_config(char const*)");
  CHECK(d.rows.back().status == DiffStatus::same);
  CHECK(d.counts[static_cast<int>(DiffStatus::same)] == 2);  // libfoo+0x1234 and the unknown stack
  CHECK(d.counts[static_cast<int>(DiffStatus::moved)] == 1);
  CHECK(d.totals_delta.alloc_bytes == 76864 + 2560 + 4000 + 300 + 16 - (64064 + 5000 + 4000 + 300 + 16));
  CHECK_FALSE(d.regressed);  // no gate given
  CHECK(d.gates.empty());
}

TEST_CASE("diff: a moved call site is matched by function, file and callers, never by line alone") {
  DiffOptions options;
  options.top = 0;
  // The old capture's parse_config call site, reached from main directly instead of from
  // load_settings: another calling chain, so not the same call site.
  Capture moved_caller = after();
  std::vector<std::uint64_t> frames = moved_caller.stacks[1].frames.to_vector();
  moved_caller.stacks[1].frames = {frames[0], frames[1], frames[3]};
  Diff d = diff_of(options, before(), moved_caller);
  CHECK(row_named(d, "parse_config(char const*)", 42).status == DiffStatus::removed);
  CHECK(row_named(d, "parse_config(char const*)", 44).status == DiffStatus::added);
  // By stack the same rule holds for whole stacks: the moved frame is the only difference.
  options.by = GroupBy::stack;
  Diff by_stack = diff_of(options);
  CHECK(row_named(by_stack, "parse_config(char const*)").status == DiffStatus::moved);
  CHECK(by_stack.counts[static_cast<int>(DiffStatus::moved)] == 1);
}

TEST_CASE("diff: by function, a line shift inside a function still matches") {
  DiffOptions options;
  options.by = GroupBy::function;
  options.top = 0;
  Diff d = diff_of(options);
  const DiffRow& parse = row_named(d, "parse_config(char const*)");
  CHECK(parse.status == DiffStatus::same);
  CHECK(parse.delta == MetricsDelta{});
  check_golden("diff/golden/diff_function.txt", render_diff_text(d));
}

TEST_CASE("diff: a capture against itself is all same, and never regresses") {
  DiffOptions options;
  options.top = 0;
  options.gates = fail_on_increase_gates(0, 0);
  for (Metric m : all_metrics) {
    options.gates.push_back(parse_gate(fmt::format("{}:0%", metric_name(m))));
  }
  Diff d = diff_of(options, before(), before());
  for (const DiffRow& r : d.rows) {
    CHECK(r.status == DiffStatus::same);
  }
  CHECK(d.gates.size() == 10);
  CHECK_FALSE(d.regressed);
}

TEST_CASE("diff: --fail-on-increase and --min-bytes keep their meaning") {
  DiffOptions options;
  options.gates = fail_on_increase_gates(5, 0);
  Diff d = diff_of(options);
  CHECK(d.regressed);
  CHECK(row_named(d, "render_page(int)").regressed);       // +20%
  CHECK(row_named(d, "log_line(char const*)").regressed);  // from nothing
  CHECK_FALSE(row_named(d, "cache_insert(std::string const&)").regressed);
  CHECK(d.gates[0].totals_failed);  // 73,380 -> 83,740 bytes (+14%)
  CHECK(d.gates[1].totals_failed);  // 119 -> 174 blocks (+46%)

  options.gates = fail_on_increase_gates(25, 0);  // render grew 20%, the totals' blocks 46%, one row is new
  CHECK(diff_of(options).regressed);
  options.gates = fail_on_increase_gates(25, 15000);  // but the most any of them grew is 12,800 bytes
  CHECK_FALSE(diff_of(options).regressed);
  options.gates = fail_on_increase_gates(19.9, 12800);
  Diff render_only = diff_of(options);  // render: +12,800 bytes, +20%
  CHECK(render_only.regressed);
  CHECK(row_named(render_only, "render_page(int)").regressed);
  CHECK_FALSE(render_only.gates[0].totals_failed);
  CHECK_FALSE(render_only.gates[1].totals_failed);

  Metrics a{100, 1000, 0, 0, 100, 1000, 0, 0};
  Metrics b = a;
  b.alloc_count = 106;  // 6% more blocks, same bytes
  std::vector<Gate> five = fail_on_increase_gates(5, 0);
  CHECK(gate_fails(five[1], a, b));
  CHECK_FALSE(gate_fails(fail_on_increase_gates(6, 0)[1], a, b));
  CHECK_FALSE(gate_fails(fail_on_increase_gates(5, 1)[1], a, b));  // the bytes did not grow by 1
  CHECK_FALSE(gate_fails(five[1], b, a));                          // shrinking never regresses

  CHECK_THROWS_AS(fail_on_increase_gates(-1, 0), UsageError);
  DiffOptions scope;
  scope.by = GroupBy::scope;
  CHECK_THROWS_AS(diff_of(scope), UsageError);
}

namespace {

// The functions of the rows that failed a diff's only gate.
std::vector<std::string> failing(const std::string& gate) {
  DiffOptions options;
  options.top = 0;
  options.gates = {parse_gate(gate)};
  Diff d = diff_of(options);
  REQUIRE(d.gates.size() == 1);
  std::vector<std::string> out;
  for (std::size_t i : d.gates[0].failed_rows) {
    out.push_back(d.rows[i].key.function.value_or(describe_key(d.rows[i].key, GroupBy::line, true)));
  }
  if (d.gates[0].totals_failed) {
    out.emplace_back("totals");
  }
  CHECK(d.regressed == !out.empty());
  return out;
}

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("diff: --fail-on gates every metric, on the totals and on each row") {
  // Totals, old -> new: alloc_count 119 -> 174, alloc_bytes 73,380 -> 83,740, free_count 113 ->
  // 173, freed_bytes 68,180 -> 83,540, live_count 6 -> 1, live_bytes 5,200 -> 200, peak_bytes
  // 7,204 -> 2,396 (the sites' peaks), temporary_count 54 -> 104. render_page grows by 20, log_line
  // is new (40 blocks of 64 B, peak 64, 40 temporaries), libfoo keeps one block of 200 B live.
  CHECK(failing("alloc_count:+54") == Names{"totals"});
  CHECK(failing("alloc_count:+55") == Names{});
  CHECK(failing("alloc_count:+30") == Names{"log_line(char const*)", "totals"});
  CHECK(failing("alloc_count:+19") == Names{"render_page(int)", "log_line(char const*)", "totals"});
  CHECK(failing("alloc_bytes:14%") == Names{"render_page(int)", "log_line(char const*)", "totals"});
  CHECK(failing("alloc_bytes:15%") == Names{"render_page(int)", "log_line(char const*)"});
  CHECK(failing("alloc_bytes:90K") == Names{});
  CHECK(failing("alloc_bytes:80K") == Names{"totals"});  // 83,740 > 81,920
  CHECK(failing("free_count:100") == Names{"render_page(int)", "totals"});
  CHECK(failing("freed_bytes:+15360") == Names{});
  CHECK(failing("freed_bytes:+15359") == Names{"totals"});
  CHECK(failing("live_count:0") == Names{"libfoo.so+0x1234", "totals"});
  CHECK(failing("live_count:+0") == Names{});
  CHECK(failing("live_bytes:0") == Names{"libfoo.so+0x1234", "totals"});
  CHECK(failing("live_bytes:200") == Names{});
  CHECK(failing("peak_bytes:5%") == Names{"render_page(int)", "log_line(char const*)"});
  CHECK(failing("peak_bytes:2396") == Names{});
  CHECK(failing("peak_bytes:2395") == Names{"totals"});
  CHECK(failing("temporary_count:50%") == Names{"log_line(char const*)", "totals"});
  CHECK(failing("temporary_count:+9") == Names{"render_page(int)", "log_line(char const*)", "totals"});
}

TEST_CASE("diff: the columns beside the sort metric match it, and a change elsewhere is named") {
  DiffOptions options;
  options.top = 0;
  options.sort = SortBy::leaked;
  std::string text = render_diff_text(diff_of(options));
  CHECK(text.find("old leaked blocks  new leaked blocks") != std::string::npos);
  // cache_insert leaked 5 blocks of 1000 B and is gone: -4.9 KiB leaked, -5 leaked blocks.
  CHECK(text.find("  -4.9 KiB  -100.0%                  5                  0      -5  cache.cpp:31") !=
        std::string::npos);

  // A row whose shown columns are equal but another metric changed says which.
  Capture freed_more = after();
  freed_more.sites[4].metrics.free_count = 2;  // libfoo: one more free of its 300 bytes, none live
  freed_more.sites[4].metrics.freed_bytes = 300;
  freed_more.sites[4].metrics.live_count = 0;
  freed_more.sites[4].metrics.live_bytes = 0;
  options.sort = SortBy::bytes;
  std::string changed = render_diff_text(diff_of(options, before(), freed_more));
  CHECK(
      changed.find("libfoo.so+0x1234 (changed: free_count +1, freed_bytes +200 B, live_count -1, live_bytes -200 B)") !=
      std::string::npos);
}

TEST_CASE("diff: gates are parsed strictly") {
  Gate g = parse_gate("peak_bytes:5%");
  CHECK(g.metric == Metric::peak_bytes);
  CHECK(g.kind == Gate::Kind::percent);
  CHECK(g.percent == 5);
  g = parse_gate("alloc_count:+1000");
  CHECK(g.kind == Gate::Kind::increase);
  CHECK(g.amount == 1000);
  g = parse_gate("live_bytes:0");
  CHECK(g.kind == Gate::Kind::ceiling);
  CHECK(g.amount == 0);
  CHECK(parse_gate("peak_bytes:+64K").amount == 65536);
  CHECK(parse_gate("peak_bytes:2MiB").amount == 2 << 20);
  CHECK(parse_gate("alloc_bytes:0.5%").percent == 0.5);
  for (const char* bad : {"peak:5%", "peak_bytes", "peak_bytes:", "alloc_count:5K", "peak_bytes:-5%", "peak_bytes:x",
                          "peak_bytes:5%%", "live_bytes:1T", ":5%", "temporary_count:+"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_gate(bad), UsageError);
  }
}

TEST_CASE("diff: a gate on a metric the captures do not measure is an error, never a pass") {
  Capture sampled_before = before();
  Capture sampled_after = after();
  sampled_before.program.mode = CaptureMode::sampled;
  sampled_after.program.mode = CaptureMode::sampled;
  DiffOptions options;
  options.gates = {parse_gate("temporary_count:0")};
  CHECK_THROWS_WITH_AS(diff_of(options, sampled_before, sampled_after),
                       doctest::Contains("temporary_count is not measured in sampled mode"), UsageError);
  // The peak is measured for the whole process but not per call site: the totals are gated.
  options.gates = {parse_gate("peak_bytes:0")};
  Diff d = diff_of(options, sampled_before, sampled_after);
  REQUIRE(d.gates.size() == 1);
  CHECK_FALSE(d.gates[0].rows_checked);
  CHECK(d.gates[0].totals_failed);
  CHECK(d.gates[0].failed_rows.empty());
  options.gates.clear();
  options.sort = SortBy::peak;
  CHECK_THROWS_WITH_AS(diff_of(options, sampled_before, sampled_after), doctest::Contains("sampled-mode"), UsageError);
}

TEST_CASE("diff: golden text, JSON and Markdown") {
  DiffOptions options;
  options.gates = fail_on_increase_gates(5, 1000);
  options.gates.push_back(parse_gate("live_bytes:0"));
  options.gates.push_back(parse_gate("peak_bytes:+1K"));
  Diff d = diff_of(options);
  check_golden("diff/golden/diff.txt", render_diff(d, DiffFormat::text));
  check_golden("diff/golden/diff.md", render_diff(d, DiffFormat::markdown));
  std::string json = render_diff(d, DiffFormat::json);
  check_golden("diff/golden/diff.json", json);

  // The contract's shape: exactly these members, metrics or null, signed deltas.
  nlohmann::json doc = nlohmann::json::parse(json);
  CHECK(doc["schema"] == "measure-diff/1");
  CHECK(doc["by"] == "line");
  std::vector<std::string> members;
  for (auto& [k, v] : doc.items()) {
    members.push_back(k);
  }
  CHECK(members == std::vector<std::string>{"by", "counts", "gates", "regressed", "rows", "schema", "sort", "totals"});
  CHECK(doc["totals"]["delta"]["alloc_bytes"] == 10360);
  CHECK(doc["regressed"] == true);
  const nlohmann::json& gone = doc["rows"][1];
  CHECK(gone["status"] == "gone");
  CHECK(gone["new"].is_null());
  CHECK(gone["old"]["live_bytes"] == 5000);
  CHECK(gone["delta"]["alloc_bytes"] == -5000);
  CHECK(gone["key"]["function"] == "cache_insert(std::string const&)");
  CHECK(gone["key"]["line"] == 31);
  const nlohmann::json& added = doc["rows"][2];
  CHECK(added["status"] == "new");
  CHECK(added["old"].is_null());
  const nlohmann::json& moved = doc["rows"][3];
  CHECK(moved["status"] == "moved");
  CHECK(moved["key"]["line"] == 44);
  CHECK(moved["old_key"]["line"] == 42);
  CHECK(doc["counts"]["moved"] == 1);

  // Each gate: its measured change on the totals, and exactly the rows that broke it.
  const nlohmann::json& gates = doc["gates"];
  REQUIRE(gates.size() == 4);
  CHECK(gates[0]["metric"] == "alloc_bytes");
  CHECK(gates[0]["limit"] == "5%");
  CHECK(gates[0]["passed"] == false);
  CHECK(gates[0]["totals"]["change"] == 10360);
  CHECK(gates[0]["failed_rows"].size() == 2);
  const nlohmann::json& leaks = gates[2];
  CHECK(leaks["metric"] == "live_bytes");
  CHECK(leaks["limit"] == "0");
  CHECK(leaks["passed"] == false);
  CHECK(leaks["totals"]["old"] == 5200);
  CHECK(leaks["totals"]["new"] == 200);
  CHECK(leaks["totals"]["passed"] == false);
  REQUIRE(leaks["failed_rows"].size() == 1);
  CHECK(leaks["failed_rows"][0]["key"]["offset"] == 0x1234);
  CHECK(leaks["failed_rows"][0]["new"] == 200);
  CHECK(gates[3]["metric"] == "peak_bytes");
  CHECK(gates[3]["passed"] == true);
  CHECK(gates[3]["failed_rows"].empty());
}
