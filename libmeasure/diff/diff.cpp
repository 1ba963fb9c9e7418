#include "diff/diff.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>

#include "support/error.h"

namespace measure {
namespace {

std::int64_t signed_difference(std::uint64_t before, std::uint64_t after) noexcept {
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (after >= before) {
    return static_cast<std::int64_t>(std::min(after - before, max));
  }
  return -static_cast<std::int64_t>(std::min(before - after, max));
}

bool grew_past(std::uint64_t before, std::uint64_t after, double percent) noexcept {
  if (after <= before) {
    return false;
  }
  if (before == 0) {
    return true;
  }
  return static_cast<double>(after - before) * 100.0 > percent * static_cast<double>(before);
}

// Rows of one report by match identity; rows whose identities coincide (the same function
// name in two modules) are summed, keeping the first key.
std::unordered_map<std::string, std::size_t> index_rows(std::vector<Row>& rows, GroupBy by) {
  std::unordered_map<std::string, std::size_t> index;
  std::vector<Row> merged;
  merged.reserve(rows.size());
  for (Row& row : rows) {
    auto [it, inserted] = index.try_emplace(match_identity(row.key, by), merged.size());
    if (inserted) {
      merged.push_back(std::move(row));
    } else {
      merged[it->second].metrics += row.metrics;
    }
  }
  rows = std::move(merged);
  return index;
}

// Largest absolute change of the sort metric first; growth before shrinkage of the same size,
// then the larger row, then the key, so the order is total and stable across runs.
void sort_rows(std::vector<DiffRow>& rows, SortBy sort) {
  struct Order {
    std::uint64_t magnitude;
    std::int64_t delta;
    std::uint64_t value;
    std::string identity;
    std::size_t index;
  };
  std::vector<Order> order;
  order.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const DiffRow& d = rows[i];
    std::int64_t delta = sort_delta(d.delta, sort);
    std::uint64_t magnitude = delta < 0 ? 0 - static_cast<std::uint64_t>(delta) : static_cast<std::uint64_t>(delta);
    order.push_back(
        {magnitude, delta, sort_value(d.new_metrics ? *d.new_metrics : *d.old_metrics, sort), d.key.identity(), i});
  }
  std::sort(order.begin(), order.end(), [](const Order& a, const Order& b) {
    if (a.magnitude != b.magnitude) {
      return a.magnitude > b.magnitude;
    }
    if (a.delta != b.delta) {
      return a.delta > b.delta;
    }
    if (a.value != b.value) {
      return a.value > b.value;
    }
    return a.identity < b.identity;
  });
  std::vector<DiffRow> sorted;
  sorted.reserve(rows.size());
  for (const Order& o : order) {
    sorted.push_back(std::move(rows[o.index]));
  }
  rows = std::move(sorted);
}

}  // namespace

MetricsDelta metrics_delta(const Metrics& b, const Metrics& a) noexcept {
  return {signed_difference(b.alloc_count, a.alloc_count), signed_difference(b.alloc_bytes, a.alloc_bytes),
          signed_difference(b.free_count, a.free_count),   signed_difference(b.freed_bytes, a.freed_bytes),
          signed_difference(b.live_count, a.live_count),   signed_difference(b.live_bytes, a.live_bytes),
          signed_difference(b.peak_bytes, a.peak_bytes),   signed_difference(b.temporary_count, a.temporary_count)};
}

std::int64_t sort_delta(const MetricsDelta& d, SortBy by) noexcept {
  switch (by) {
    case SortBy::bytes:
      return d.alloc_bytes;
    case SortBy::count:
      return d.alloc_count;
    case SortBy::peak:
      return d.peak_bytes;
    case SortBy::leaked:
      return d.live_bytes;
    case SortBy::temporary:
      return d.temporary_count;
  }
  return d.alloc_bytes;
}

std::string_view diff_status_name(DiffStatus status) noexcept {
  switch (status) {
    case DiffStatus::added:
      return "new";
    case DiffStatus::removed:
      return "gone";
    case DiffStatus::changed:
      return "changed";
    case DiffStatus::same:
      return "same";
  }
  return "same";
}

std::string match_identity(const RowKey& k, GroupBy by) {
  if (by == GroupBy::module) {
    return k.module ? std::filesystem::path(*k.module).filename().string() : std::string();
  }
  if (k.function || k.file) {
    return fmt::format("{}\x1f{}\x1f{}", k.function.value_or(""), k.file.value_or(""),
                       k.line ? fmt::to_string(*k.line) : "");
  }
  return k.identity();  // module + offset, or the unknown stack
}

bool exceeds_threshold(const Metrics& before, const Metrics& after, double percent, std::uint64_t min_bytes) noexcept {
  bool grew = grew_past(before.alloc_bytes, after.alloc_bytes, percent) ||
              grew_past(before.alloc_count, after.alloc_count, percent);
  bool large_enough = min_bytes == 0 ||
                      (after.alloc_bytes >= before.alloc_bytes && after.alloc_bytes - before.alloc_bytes >= min_bytes);
  return grew && large_enough;
}

namespace {

ReportOptions report_options(const DiffOptions& options) {
  if (options.fail_on_increase && !(*options.fail_on_increase >= 0 && std::isfinite(*options.fail_on_increase))) {
    throw UsageError(
        fmt::format("--fail-on-increase {}: expected a percentage of 0 or more", *options.fail_on_increase));
  }
  ReportOptions ro;
  ro.by = options.by;
  ro.sort = options.sort;
  ro.top = 0;
  ro.include = options.include;
  ro.exclude = options.exclude;
  return ro;
}

Diff match_reports(const Capture& old_capture, const Capture& new_capture, const DiffOptions& options,
                   Report old_report, Report new_report) {
  Diff diff;
  diff.options = options;
  diff.old_capture = &old_capture;
  diff.new_capture = &new_capture;
  diff.old_report = std::move(old_report);
  diff.new_report = std::move(new_report);
  diff.old_totals = diff.old_report.selected;
  diff.new_totals = diff.new_report.selected;
  diff.totals_delta = metrics_delta(diff.old_totals, diff.new_totals);

  std::vector<Row>& old_rows = diff.old_report.rows;
  std::vector<Row>& new_rows = diff.new_report.rows;
  if (options.by == GroupBy::scope) {
    if (old_capture.scopes.empty() && new_capture.scopes.empty()) {
      throw UsageError("--by scope: neither capture has named scopes (measure::Scope, measure_scope_begin)");
    }
    // Scopes compare per entry: a run that parsed twice as many files is not a regression,
    // a parse that costs 14 blocks instead of 12 is.
    diff.old_totals = Metrics{};
    diff.new_totals = Metrics{};
    for (Row& row : old_rows) {
      row.metrics = per_entry(row.metrics, row.entries);
      diff.old_totals += row.metrics;
    }
    for (Row& row : new_rows) {
      row.metrics = per_entry(row.metrics, row.entries);
      diff.new_totals += row.metrics;
    }
    diff.totals_delta = metrics_delta(diff.old_totals, diff.new_totals);
  }

  std::unordered_map<std::string, std::size_t> old_index = index_rows(old_rows, options.by);
  index_rows(new_rows, options.by);
  std::vector<bool> matched(old_rows.size());
  for (Row& row : new_rows) {
    DiffRow d;
    d.new_metrics = row.metrics;
    d.new_entries = row.entries;
    auto it = old_index.find(match_identity(row.key, options.by));
    if (it == old_index.end()) {
      d.status = DiffStatus::added;
      d.delta = metrics_delta(Metrics{}, row.metrics);
    } else {
      matched[it->second] = true;
      d.old_metrics = old_rows[it->second].metrics;
      d.old_entries = old_rows[it->second].entries;
      d.status = *d.old_metrics == row.metrics ? DiffStatus::same : DiffStatus::changed;
      d.delta = metrics_delta(*d.old_metrics, row.metrics);
    }
    d.key = std::move(row.key);
    diff.rows.push_back(std::move(d));
  }
  for (std::size_t i = 0; i < old_rows.size(); ++i) {
    if (!matched[i]) {
      DiffRow d;
      d.status = DiffStatus::removed;
      d.old_metrics = old_rows[i].metrics;
      d.old_entries = old_rows[i].entries;
      d.delta = metrics_delta(old_rows[i].metrics, Metrics{});
      d.key = std::move(old_rows[i].key);
      diff.rows.push_back(std::move(d));
    }
  }
  // The reports' rows were moved from; they are not shown again.
  old_rows.clear();
  new_rows.clear();

  if (options.fail_on_increase) {
    double percent = *options.fail_on_increase;
    diff.totals_regressed = exceeds_threshold(diff.old_totals, diff.new_totals, percent, options.min_bytes);
    diff.regressed = diff.totals_regressed;
    for (DiffRow& d : diff.rows) {
      d.regressed = exceeds_threshold(d.old_metrics.value_or(Metrics{}), d.new_metrics.value_or(Metrics{}), percent,
                                      options.min_bytes);
      diff.regressed = diff.regressed || d.regressed;
    }
  }
  sort_rows(diff.rows, options.sort);
  for (const DiffRow& d : diff.rows) {
    ++diff.counts[static_cast<std::size_t>(d.status)];
  }
  diff.shown = options.top == 0 ? diff.rows.size() : std::min(options.top, diff.rows.size());
  return diff;
}

}  // namespace

Diff build_diff(const Capture& old_capture, const Capture& new_capture, const DiffOptions& options) {
  ReportOptions ro = report_options(options);
  // The two sides share nothing (each report has its own symbolizer and libdw handles), so
  // they are built at once: a diff of two 100,000-stack captures takes as long as a report.
  // Each Symbolizer unsets DEBUGINFOD_URLS; doing it first leaves the threads nothing to
  // change in the environment while libdw may read it.
  ::unsetenv("DEBUGINFOD_URLS");
  std::future<Report> old_report = std::async(std::launch::async, [&] { return build_report(old_capture, ro); });
  Report new_report = build_report(new_capture, ro);
  return match_reports(old_capture, new_capture, options, old_report.get(), std::move(new_report));
}

Diff build_diff(const Capture& old_capture, const Capture& new_capture, const DiffOptions& options,
                const FrameResolver& resolve_old, const FrameResolver& resolve_new) {
  ReportOptions ro = report_options(options);
  return match_reports(old_capture, new_capture, options, build_report(old_capture, ro, resolve_old),
                       build_report(new_capture, ro, resolve_new));
}

std::optional<DiffFormat> parse_diff_format(std::string_view t) noexcept {
  if (t == "text") {
    return DiffFormat::text;
  }
  if (t == "json") {
    return DiffFormat::json;
  }
  if (t == "markdown") {
    return DiffFormat::markdown;
  }
  return std::nullopt;
}

std::string render_diff(const Diff& diff, DiffFormat format) {
  switch (format) {
    case DiffFormat::text:
      return render_diff_text(diff);
    case DiffFormat::json:
      return render_diff_json(diff);
    case DiffFormat::markdown:
      return render_diff_markdown(diff);
  }
  return render_diff_text(diff);
}

}  // namespace measure
