// Comparing two captures per call site: rows keyed by symbolized frames (never addresses), so
// a diff holds across runs, rebuilds and versions, with a verdict a CI job can act on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "report/report.h"

namespace measure {

/// Signed differences (new minus old) of the eight metrics.
struct MetricsDelta {
#define MEASURE_METRIC_DELTA(name, unit) std::int64_t name = 0;
  MEASURE_METRICS(MEASURE_METRIC_DELTA)
#undef MEASURE_METRIC_DELTA
  /// The difference of one metric.
  std::int64_t value(Metric metric) const noexcept {
    return metric_member(*this, metric);
  }
  friend bool operator==(const MetricsDelta&, const MetricsDelta&) = default;
};

/// `after - before`, metric by metric.
MetricsDelta metrics_delta(const Metrics& before, const Metrics& after) noexcept;
/// The delta of the metric a sort key orders by.
std::int64_t sort_delta(const MetricsDelta& delta, SortBy by) noexcept;

/// added: only in the new capture ("new"); removed: only in the old one ("gone"); moved: the
/// same call site at another line, every metric equal (a changed row may have moved too).
enum class DiffStatus { added, removed, changed, moved, same };
inline constexpr std::size_t diff_status_count = 5;
std::string_view diff_status_name(DiffStatus status) noexcept;

/// A --fail-on gate, METRIC:LIMIT: the metric may grow by at most a percentage of its old
/// value (`peak_bytes:5%`), by at most an amount (`alloc_count:+1000`), or may not exceed
/// an amount in the new capture (`live_bytes:0`). Applied to the totals and to every row.
struct Gate {
  enum class Kind { percent, increase, ceiling };
  Metric metric = Metric::alloc_bytes;
  Kind kind = Kind::percent;
  double percent = 0;           // Kind::percent
  std::uint64_t amount = 0;     // Kind::increase and Kind::ceiling
  std::uint64_t min_bytes = 0;  // Kind::percent: growth of fewer bytes than this never fails
  std::string text;             // as the user wrote it
};

/// Parses METRIC:LIMIT (LIMIT: N%, +N or N; byte metrics take K, M and G suffixes, binary).
/// Throws UsageError naming what is wrong.
Gate parse_gate(std::string_view text);
/// The older --fail-on-increase PERCENT [--min-bytes N]: bytes or blocks allocated grew by more
/// than PERCENT, and bytes allocated by at least N.
std::vector<Gate> fail_on_increase_gates(double percent, std::uint64_t min_bytes);

/// Whether `gate` fails for a change from `before` to `after` (a metric that did not exist
/// before is 0; growth from 0 is infinite).
bool gate_fails(const Gate& gate, const Metrics& before, const Metrics& after) noexcept;

struct DiffOptions {
  GroupBy by = GroupBy::line;
  SortBy sort = SortBy::bytes;
  std::size_t top = 10;  // rows to show; 0 shows all
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::vector<Gate> gates;  // none: nothing regresses
};

struct DiffRow {
  RowKey key;                     // as the new capture names it (the old one's for a gone row)
  std::optional<RowKey> old_key;  // the old capture's key when it differs (the call site moved)
  DiffStatus status = DiffStatus::same;
  std::optional<Metrics> old_metrics;  // unset for a new row
  std::optional<Metrics> new_metrics;  // unset for a gone row
  MetricsDelta delta;
  bool regressed = false;         // failed a gate
  std::uint64_t old_entries = 0;  // --by scope: entries of the scope (metrics are per entry)
  std::uint64_t new_entries = 0;
};

/// One gate's verdict: on the totals, and the rows that broke it (indexes into Diff::rows).
struct GateResult {
  Gate gate;
  bool totals_failed = false;
  bool rows_checked = true;  // false when the captures do not measure the metric per row
  std::vector<std::size_t> failed_rows;
  bool passed() const noexcept { return !totals_failed && failed_rows.empty(); }
};

struct Diff {
  DiffOptions options;
  const Capture* old_capture = nullptr;
  const Capture* new_capture = nullptr;
  Report old_report;  // for their footers: what each capture could not see
  Report new_report;
  Metrics old_totals;  // of the selected stacks (all of them without filters)
  Metrics new_totals;
  MetricsDelta totals_delta;
  MetricSet unknown_in_rows;    // metrics either capture does not measure per row
  MetricSet unknown_in_totals;  // ... for the whole process
  std::vector<DiffRow> rows;    // sorted by absolute change of the sort metric, largest first
  std::size_t shown = 0;
  std::size_t counts[diff_status_count] = {};  // rows per DiffStatus
  std::vector<GateResult> gates;               // one per gate, in the order given
  bool regressed = false;                      // a gate failed
};

/// The key two rows are matched by: function + file + line (as the grouping has them),
/// falling back to module + offset for code without names. Module paths are left out of
/// named keys, so a program rebuilt elsewhere still matches; `--by module` matches file names.
std::string match_identity(const RowKey& key, GroupBy by);

/// Groups both captures and matches their rows: first by match_identity (for --by stack, of
/// every frame), then rows left over on both sides whose call site has the same function,
/// file and callers (docs/reports.md, "Matching") as moved rows. Throws UsageError for
/// options it cannot honour, among them a gate on a metric the captures do not measure.
/// The captures must outlive the result.
Diff build_diff(const Capture& old_capture, const Capture& new_capture, const DiffOptions& options);
/// The same with given symbols for each capture (see build_report).
Diff build_diff(const Capture& old_capture, const Capture& new_capture, const DiffOptions& options,
                const FrameResolver& resolve_old, const FrameResolver& resolve_new);

enum class DiffFormat { text, json, markdown, html };
std::optional<DiffFormat> parse_diff_format(std::string_view text) noexcept;
std::string render_diff(const Diff& diff, DiffFormat format);
std::string render_diff_text(const Diff& diff);
/// The measure-diff/1 JSON document (docs/reports.md).
std::string render_diff_json(const Diff& diff);
/// A summary and table for a pull-request comment.
std::string render_diff_markdown(const Diff& diff);
/// One self-contained interactive page: a differential flame graph (widths of the new capture,
/// growth red and shrinkage blue), the diff's table and its verdict.
std::string render_diff_html(const Diff& diff);

/// "passed: 1 gate held; bytes allocated grew by ..." (the text format's verdict line).
std::string diff_verdict(const Diff& diff);
/// "allocated 1.0 MiB in 10 blocks -> ..." (the text format's totals line).
std::string diff_totals_line(const Diff& diff);
/// What either capture could not see, one sentence each ("old capture: ...").
std::vector<std::string> diff_notes(const Diff& diff);

}  // namespace measure
