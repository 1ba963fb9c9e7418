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

// The identity of a row's call site for matching. For --by stack it is the whole stack
// (every frame as match_identity names a line), else the key's. `lines`: false leaves the
// lines out, for finding call sites that moved.
std::string row_identity(const Report& report, const Row& row, GroupBy by, bool lines) {
  if (by != GroupBy::stack) {
    RowKey key = row.key;
    if (!lines) {
      key.line.reset();
    }
    return match_identity(key, by);
  }
  std::string identity;
  for (const Frame& f : report.stack(row)) {
    RowKey key = key_for(&f, GroupBy::line);
    if (!lines) {
      key.line.reset();
    }
    identity += match_identity(key, GroupBy::line);
    identity.push_back('\x1e');
  }
  return identity;
}

// Where a call site sits, apart from its line: its function and file (row_identity without
// lines) and the functions of its next callers, outwards from the row's key frame in its
// heaviest stack. Empty for rows that have no line to move.
std::string moved_identity(const Report& report, const Row& row, GroupBy by) {
  if ((by != GroupBy::line && by != GroupBy::stack) || !row.key.function || !row.key.line) {
    return {};
  }
  std::string identity = row_identity(report, row, by, false);
  if (by == GroupBy::line) {
    std::vector<Frame> stack = report.stack(row);
    const Frame* key = key_frame(stack);
    constexpr std::size_t callers = 3;
    for (std::size_t i = key == nullptr ? stack.size() : static_cast<std::size_t>(key - stack.data()) + 1, n = 0;
         i < stack.size() && n < callers; ++i, ++n) {
      identity += '\x1e' + stack[i].function;
    }
  }
  return identity;
}

// Rows of one report by identity; rows whose identities coincide (the same function name in
// two modules) are summed, keeping the first key and its stack.
std::unordered_map<std::string, std::size_t> index_rows(Report& report, GroupBy by) {
  std::unordered_map<std::string, std::size_t> index;
  std::vector<Row> merged;
  merged.reserve(report.rows.size());
  for (Row& row : report.rows) {
    auto [it, inserted] = index.try_emplace(row_identity(report, row, by, true), merged.size());
    if (inserted) {
      merged.push_back(std::move(row));
    } else {
      merged[it->second].metrics += row.metrics;
    }
  }
  report.rows = std::move(merged);
  return index;
}

// Pairs the rows left over on both sides that are the same call site at another line. When a
// function holds several such sites, an edit above them moves them all alike: pair them in
// line order when both sides have as many, else each with the nearest line.
std::vector<std::pair<std::size_t, std::size_t>> pair_moved(const Report& old_report,
                                                            const std::vector<std::size_t>& old_left,
                                                            const Report& new_report,
                                                            const std::vector<std::size_t>& new_left, GroupBy by) {
  std::unordered_map<std::string, std::pair<std::vector<std::size_t>, std::vector<std::size_t>>> groups;
  std::vector<std::string> order;
  for (std::size_t i : old_left) {
    std::string id = moved_identity(old_report, old_report.rows[i], by);
    if (!id.empty()) {
      auto [it, inserted] = groups.try_emplace(id);
      if (inserted) {
        order.push_back(id);
      }
      it->second.first.push_back(i);
    }
  }
  for (std::size_t i : new_left) {
    std::string id = moved_identity(new_report, new_report.rows[i], by);
    if (auto it = groups.find(id); !id.empty() && it != groups.end()) {
      it->second.second.push_back(i);
    }
  }
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  for (const std::string& id : order) {
    auto& [olds, news] = groups[id];
    if (news.empty()) {
      continue;
    }
    auto line_of = [](const Report& r, std::size_t i) { return *r.rows[i].key.line; };
    auto by_line = [&](const Report& r) {
      return [&](std::size_t a, std::size_t b) { return line_of(r, a) < line_of(r, b); };
    };
    std::sort(olds.begin(), olds.end(), by_line(old_report));
    std::sort(news.begin(), news.end(), by_line(new_report));
    if (olds.size() == news.size()) {
      for (std::size_t k = 0; k < olds.size(); ++k) {
        pairs.emplace_back(olds[k], news[k]);
      }
      continue;
    }
    std::vector<bool> taken(news.size());
    for (std::size_t o : olds) {
      std::size_t best = news.size();
      std::uint64_t best_distance = UINT64_MAX;
      for (std::size_t k = 0; k < news.size(); ++k) {
        std::int64_t d =
            static_cast<std::int64_t>(line_of(new_report, news[k])) - static_cast<std::int64_t>(line_of(old_report, o));
        auto distance = static_cast<std::uint64_t>(d < 0 ? -d : d);
        if (!taken[k] && distance < best_distance) {
          best = k;
          best_distance = distance;
        }
      }
      if (best != news.size()) {
        taken[best] = true;
        pairs.emplace_back(o, news[best]);
      }
    }
  }
  return pairs;
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
  MetricsDelta d;
#define MEASURE_METRIC_DIFFERENCE(name, unit) d.name = signed_difference(b.name, a.name);
  MEASURE_METRICS(MEASURE_METRIC_DIFFERENCE)
#undef MEASURE_METRIC_DIFFERENCE
  return d;
}

std::int64_t sort_delta(const MetricsDelta& d, SortBy by) noexcept {
  return d.value(sort_metric(by));
}

std::string_view diff_status_name(DiffStatus status) noexcept {
  switch (status) {
    case DiffStatus::added:
      return "new";
    case DiffStatus::removed:
      return "gone";
    case DiffStatus::changed:
      return "changed";
    case DiffStatus::moved:
      return "moved";
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

namespace {

ReportOptions report_options(const DiffOptions& options) {
  ReportOptions ro;
  ro.by = options.by;
  ro.sort = options.sort;
  ro.top = 0;
  ro.include = options.include;
  ro.exclude = options.exclude;
  return ro;
}

// Each gate on the totals and on every row. A gate on a metric that neither side can know
// is an error: a gate that cannot fail would let every change through.
void apply_gates(Diff& diff) {
  for (const Gate& gate : diff.options.gates) {
    if (diff.unknown_in_totals.contains(gate.metric)) {
      const Capture* unmeasured = diff.old_capture->unmeasured_in_totals().contains(gate.metric)   ? diff.old_capture
                                  : diff.new_capture->unmeasured_in_totals().contains(gate.metric) ? diff.new_capture
                                                                                                   : nullptr;
      throw UsageError(fmt::format("--fail-on {}: {}", gate.text,
                                   unmeasured != nullptr
                                       ? fmt::format("{} is not measured in {} mode (exact mode measures it)",
                                                     metric_name(gate.metric), mode_name(unmeasured->program.mode))
                                       : fmt::format("scopes do not record {}", metric_name(gate.metric))));
    }
    GateResult& result = diff.gates.emplace_back();
    result.gate = gate;
    result.totals_failed = gate_fails(gate, diff.old_totals, diff.new_totals);
    result.rows_checked = !diff.unknown_in_rows.contains(gate.metric);
    for (std::size_t i = 0; result.rows_checked && i < diff.rows.size(); ++i) {
      DiffRow& row = diff.rows[i];
      if (gate_fails(gate, row.old_metrics.value_or(Metrics{}), row.new_metrics.value_or(Metrics{}))) {
        result.failed_rows.push_back(i);
        row.regressed = true;
      }
    }
    diff.regressed = diff.regressed || !result.passed();
  }
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
  diff.unknown_in_rows = diff.old_report.unknown_in_rows;
  diff.unknown_in_rows.add(diff.new_report.unknown_in_rows);
  diff.unknown_in_totals = diff.old_report.unknown_in_totals;
  diff.unknown_in_totals.add(diff.new_report.unknown_in_totals);

  Report& old_side = diff.old_report;
  Report& new_side = diff.new_report;
  if (options.by == GroupBy::scope) {
    if (old_capture.scopes.empty() && new_capture.scopes.empty()) {
      throw UsageError("--by scope: neither capture has named scopes (measure::Scope, measure_scope_begin)");
    }
    // Scopes compare per entry: a run that parsed twice as many files is not a regression,
    // a parse that costs 14 blocks instead of 12 is.
    diff.old_totals = Metrics{};
    diff.new_totals = Metrics{};
    for (Row& row : old_side.rows) {
      row.metrics = per_entry(row.metrics, row.entries);
      diff.old_totals += row.metrics;
    }
    for (Row& row : new_side.rows) {
      row.metrics = per_entry(row.metrics, row.entries);
      diff.new_totals += row.metrics;
    }
    diff.totals_delta = metrics_delta(diff.old_totals, diff.new_totals);
    diff.unknown_in_totals.add(Metric::temporary_count);
  }

  std::unordered_map<std::string, std::size_t> old_index = index_rows(old_side, options.by);
  index_rows(new_side, options.by);
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  std::vector<std::size_t> old_of(new_side.rows.size(), none);  // per new row: its old row
  std::vector<bool> matched(old_side.rows.size());
  for (std::size_t i = 0; i < new_side.rows.size(); ++i) {
    auto it = old_index.find(row_identity(new_side, new_side.rows[i], options.by, true));
    if (it != old_index.end()) {
      old_of[i] = it->second;
      matched[it->second] = true;
    }
  }
  std::vector<std::size_t> old_left;
  std::vector<std::size_t> new_left;
  for (std::size_t i = 0; i < old_side.rows.size(); ++i) {
    if (!matched[i]) {
      old_left.push_back(i);
    }
  }
  for (std::size_t i = 0; i < new_side.rows.size(); ++i) {
    if (old_of[i] == none) {
      new_left.push_back(i);
    }
  }
  std::vector<bool> moved(new_side.rows.size());
  for (auto [o, n] : pair_moved(old_side, old_left, new_side, new_left, options.by)) {
    old_of[n] = o;
    matched[o] = true;
    moved[n] = true;
  }

  for (std::size_t i = 0; i < new_side.rows.size(); ++i) {
    Row& row = new_side.rows[i];
    DiffRow d;
    d.new_metrics = row.metrics;
    d.new_entries = row.entries;
    if (old_of[i] == none) {
      d.status = DiffStatus::added;
      d.delta = metrics_delta(Metrics{}, row.metrics);
    } else {
      Row& old_row = old_side.rows[old_of[i]];
      d.old_metrics = old_row.metrics;
      d.old_entries = old_row.entries;
      if (moved[i]) {
        d.old_key = std::move(old_row.key);
      }
      d.status = *d.old_metrics != row.metrics ? DiffStatus::changed : d.old_key ? DiffStatus::moved : DiffStatus::same;
      d.delta = metrics_delta(*d.old_metrics, row.metrics);
    }
    d.key = std::move(row.key);
    diff.rows.push_back(std::move(d));
  }
  for (std::size_t i = 0; i < old_side.rows.size(); ++i) {
    if (!matched[i]) {
      DiffRow d;
      d.status = DiffStatus::removed;
      d.old_metrics = old_side.rows[i].metrics;
      d.old_entries = old_side.rows[i].entries;
      d.delta = metrics_delta(old_side.rows[i].metrics, Metrics{});
      d.key = std::move(old_side.rows[i].key);
      diff.rows.push_back(std::move(d));
    }
  }
  // The reports' rows were moved from; they are not shown again.
  old_side.rows.clear();
  new_side.rows.clear();

  sort_rows(diff.rows, options.sort);
  apply_gates(diff);
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
  if (t == "html") {
    return DiffFormat::html;
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
    case DiffFormat::html:
      return render_diff_html(diff);
  }
  return render_diff_text(diff);
}

}  // namespace measure
