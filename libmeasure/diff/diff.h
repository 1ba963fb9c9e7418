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
  std::int64_t alloc_count = 0;
  std::int64_t alloc_bytes = 0;
  std::int64_t free_count = 0;
  std::int64_t freed_bytes = 0;
  std::int64_t live_count = 0;
  std::int64_t live_bytes = 0;
  std::int64_t peak_bytes = 0;
  std::int64_t temporary_count = 0;
  friend bool operator==(const MetricsDelta&, const MetricsDelta&) = default;
};

/// `after - before`, metric by metric.
MetricsDelta metrics_delta(const Metrics& before, const Metrics& after) noexcept;
/// The delta of the metric a sort key orders by.
std::int64_t sort_delta(const MetricsDelta& delta, SortBy by) noexcept;

/// added: only in the new capture ("new"); removed: only in the old one ("gone").
enum class DiffStatus { added, removed, changed, same };
std::string_view diff_status_name(DiffStatus status) noexcept;

struct DiffOptions {
  GroupBy by = GroupBy::line;
  SortBy sort = SortBy::bytes;
  std::size_t top = 10;  // rows to show; 0 shows all
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::optional<double> fail_on_increase;  // percent; unset: never regressed
  std::uint64_t min_bytes = 0;             // growth below this many bytes never regresses
};

struct DiffRow {
  RowKey key;  // as the new capture names it (the old one's for a gone row)
  DiffStatus status = DiffStatus::same;
  std::optional<Metrics> old_metrics;  // unset for a new row
  std::optional<Metrics> new_metrics;  // unset for a gone row
  MetricsDelta delta;
  bool regressed = false;         // grew past the --fail-on-increase threshold
  std::uint64_t old_entries = 0;  // --by scope: entries of the scope (metrics are per entry)
  std::uint64_t new_entries = 0;
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
  bool totals_regressed = false;
  std::vector<DiffRow> rows;  // sorted by absolute change of the sort metric, largest first
  std::size_t shown = 0;
  std::size_t counts[4] = {};  // rows per DiffStatus
  bool regressed = false;      // any row, or the totals
};

/// The key two rows are matched by: function + file + line (as the grouping has them),
/// falling back to module + offset for code without names. Module paths are left out of
/// named keys, so a program rebuilt elsewhere still matches; `--by module` matches file names.
std::string match_identity(const RowKey& key, GroupBy by);

/// Groups both captures and matches their rows. Throws UsageError for options it cannot
/// honour. The captures must outlive the result.
Diff build_diff(const Capture& old_capture, const Capture& new_capture, const DiffOptions& options);
/// The same with given symbols for each capture (see build_report).
Diff build_diff(const Capture& old_capture, const Capture& new_capture, const DiffOptions& options,
                const FrameResolver& resolve_old, const FrameResolver& resolve_new);

/// Whether growth from `before` to `after` crosses the threshold: alloc_bytes or alloc_count
/// grew by more than `percent` percent (anything from nothing counts as infinite growth) and
/// alloc_bytes grew by at least `min_bytes` (when min_bytes is not 0).
bool exceeds_threshold(const Metrics& before, const Metrics& after, double percent, std::uint64_t min_bytes) noexcept;

enum class DiffFormat { text, json, markdown };
std::optional<DiffFormat> parse_diff_format(std::string_view text) noexcept;
std::string render_diff(const Diff& diff, DiffFormat format);
std::string render_diff_text(const Diff& diff);
/// The measure-diff/1 JSON document (contract.md).
std::string render_diff_json(const Diff& diff);
/// A summary and table for a pull-request comment.
std::string render_diff_markdown(const Diff& diff);

}  // namespace measure
