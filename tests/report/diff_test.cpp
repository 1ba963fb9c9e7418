// measure diff on the synthetic captures: statuses, matching rules, order, thresholds, and
// the golden text, JSON and Markdown outputs.
#include "diff/diff.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "report/synthetic.h"
#include "support/error.h"

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

TEST_CASE("diff: by line, a moved call is gone at its old line and new at its new one") {
  DiffOptions options;
  options.top = 0;
  Diff d = diff_of(options);
  CHECK(row_named(d, "parse_config(char const*)", 42).status == DiffStatus::removed);
  CHECK(row_named(d, "parse_config(char const*)", 44).status == DiffStatus::added);
  const DiffRow& render = row_named(d, "render_page(int)");
  CHECK(render.status == DiffStatus::changed);
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
  // Largest absolute change of bytes first: +12800, -5000, +4000 before -4000, +2560 ...
  REQUIRE(d.rows.size() == 7);
  CHECK(d.rows[0].key.function == "render_page(int)");
  CHECK(d.rows[1].key.function == "cache_insert(std::string const&)");
  CHECK(d.rows[2].key.line == 44u);
  CHECK(d.rows[3].key.line == 42u);
  CHECK(d.rows[4].key.function == "log_line(char const*)");
  CHECK(d.rows.back().status == DiffStatus::same);
  CHECK(d.counts[static_cast<int>(DiffStatus::same)] == 2);  // libfoo+0x1234 and the unknown stack
  CHECK(d.totals_delta.alloc_bytes == 76864 + 2560 + 4000 + 300 + 16 - (64064 + 5000 + 4000 + 300 + 16));
  CHECK_FALSE(d.regressed);  // no threshold given
}

TEST_CASE("diff: by function, a line shift inside a function still matches") {
  DiffOptions options;
  options.by = GroupBy::function;
  options.top = 0;
  Diff d = diff_of(options);
  const DiffRow& parse = row_named(d, "parse_config(char const*)");
  CHECK(parse.status == DiffStatus::same);
  CHECK(parse.delta == MetricsDelta{});
  check_golden("diff_function.txt", render_diff_text(d));
}

TEST_CASE("diff: a capture against itself is all same, and never regresses") {
  DiffOptions options;
  options.top = 0;
  options.fail_on_increase = 0;
  Diff d = diff_of(options, before(), before());
  for (const DiffRow& r : d.rows) {
    CHECK(r.status == DiffStatus::same);
  }
  CHECK_FALSE(d.regressed);
}

TEST_CASE("diff: --fail-on-increase and --min-bytes") {
  DiffOptions options;
  options.fail_on_increase = 5;
  Diff d = diff_of(options);
  CHECK(d.regressed);
  CHECK(row_named(d, "render_page(int)").regressed);       // +20%
  CHECK(row_named(d, "log_line(char const*)").regressed);  // from nothing
  CHECK_FALSE(row_named(d, "cache_insert(std::string const&)").regressed);
  CHECK(d.totals_regressed);  // 73,380 -> 83,740 bytes (+14%), 119 -> 174 blocks (+46%)

  options.fail_on_increase = 25;  // render grew 20%, the totals' blocks 46%, two rows are new
  CHECK(diff_of(options).regressed);
  options.min_bytes = 15000;  // but the most any of them grew is 12,800 bytes
  Diff big_only = diff_of(options);
  CHECK_FALSE(big_only.regressed);
  options.min_bytes = 12800;
  options.fail_on_increase = 19.9;
  Diff render_only = diff_of(options);  // render: +12,800 bytes, +20%
  CHECK(render_only.regressed);
  CHECK(row_named(render_only, "render_page(int)").regressed);
  CHECK_FALSE(render_only.totals_regressed);

  Metrics a{100, 1000, 0, 0, 100, 1000, 0, 0};
  Metrics b = a;
  b.alloc_count = 106;  // 6% more blocks, same bytes
  CHECK(exceeds_threshold(a, b, 5, 0));
  CHECK_FALSE(exceeds_threshold(a, b, 6, 0));
  CHECK_FALSE(exceeds_threshold(a, b, 5, 1));  // the bytes did not grow by 1
  CHECK_FALSE(exceeds_threshold(b, a, 0, 0));  // shrinking never regresses

  options.fail_on_increase = -1;
  CHECK_THROWS_AS(diff_of(options), UsageError);
  DiffOptions scope;
  scope.by = GroupBy::scope;
  CHECK_THROWS_AS(diff_of(scope), UsageError);
}

TEST_CASE("diff: golden text, JSON and Markdown") {
  DiffOptions options;
  options.fail_on_increase = 5;
  options.min_bytes = 1000;
  Diff d = diff_of(options);
  check_golden("diff.txt", render_diff(d, DiffFormat::text));
  check_golden("diff.md", render_diff(d, DiffFormat::markdown));
  std::string json = render_diff(d, DiffFormat::json);
  check_golden("diff.json", json);

  // The contract's shape: exactly these members, metrics or null, signed deltas.
  nlohmann::json doc = nlohmann::json::parse(json);
  CHECK(doc["schema"] == "measure-diff/1");
  CHECK(doc["by"] == "line");
  std::vector<std::string> members;
  for (auto& [k, v] : doc.items()) {
    members.push_back(k);
  }
  CHECK(members == std::vector<std::string>{"by", "regressed", "rows", "schema", "totals"});
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
}
