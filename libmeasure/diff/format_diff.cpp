// Rendering a Diff: text for people (an aligned table with signed deltas, the gates, a verdict
// and a footer), measure-diff/1 JSON for machines, Markdown for pull-request comments.
#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "diff/diff.h"
#include "report/formats.h"
#include "support/json_writer.h"

namespace measure {
namespace {

std::uint64_t magnitude(std::int64_t v) noexcept {
  return v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
}

std::string value_text(std::uint64_t v, Metric metric) {
  return is_byte_metric(metric) ? human_bytes(v) : grouped(v);
}

std::string signed_text(std::int64_t v, Metric metric) {
  if (v == 0) {
    return is_byte_metric(metric) ? "0 B" : "0";
  }
  return fmt::format("{}{}", v > 0 ? "+" : "-", value_text(magnitude(v), metric));
}

// "+12.5%", "-100.0%", "new" (from nothing), "" (no change).
std::string relative(std::uint64_t before, std::int64_t delta) {
  if (delta == 0) {
    return "";
  }
  if (before == 0) {
    return "new";
  }
  return fmt::format("{:+.1f}%", 100.0 * static_cast<double>(delta) / static_cast<double>(before));
}

bool either_partial(const Diff& d) noexcept {
  return d.old_capture->partial() || d.new_capture->partial();
}

// The second metric a row shows beside the sort metric: blocks beside bytes, bytes beside
// counts, and the leaked blocks beside the leaked bytes.
Metric companion(SortBy sort) noexcept {
  switch (sort) {
    case SortBy::count:
    case SortBy::temporary:
      return Metric::alloc_bytes;
    case SortBy::leaked:
      return Metric::live_count;
    case SortBy::bytes:
    case SortBy::peak:
      return Metric::alloc_count;
  }
  return Metric::alloc_count;
}

std::string companion_heading(const Diff& d) {
  Metric other = companion(d.options.sort);
  if (other == Metric::alloc_bytes) {
    return "bytes";
  }
  if (other == Metric::live_count) {
    return either_partial(d) ? "live blocks" : "leaked blocks";
  }
  return "blocks";
}

// Every metric that changed, for a changed row whose shown columns did not: the reader sees
// why it is not "same".
std::string changed_elsewhere(const DiffRow& r, SortBy sort) {
  if (r.status != DiffStatus::changed || r.delta.value(sort_metric(sort)) != 0 || r.delta.value(companion(sort)) != 0) {
    return {};
  }
  std::string out;
  for (Metric m : all_metrics) {
    if (std::int64_t v = r.delta.value(m); v != 0) {
      out += fmt::format("{}{} {}", out.empty() ? " (changed: " : ", ", metric_name(m), signed_text(v, m));
    }
  }
  return out.empty() ? out : out + ")";
}

// A row's place: for scopes how often each run entered them (their metrics are per entry),
// for a call site that moved where it was.
std::string location(const DiffRow& r, const DiffOptions& o) {
  std::string where = describe_key(r.key, o.by, true);
  if (o.by == GroupBy::scope) {
    where += fmt::format(" ({} → {} entries; per entry)", grouped(r.old_entries), grouped(r.new_entries));
  }
  if (r.old_key && r.old_key->line && r.key.line && *r.old_key->line != *r.key.line) {
    where += fmt::format(" (was line {})", *r.old_key->line);
  } else if (r.old_key) {
    where += " (moved)";
  }
  return where + changed_elsewhere(r, o.sort);
}

std::string change_of(std::uint64_t before, std::uint64_t after, Metric metric) {
  std::int64_t delta =
      after >= before ? static_cast<std::int64_t>(after - before) : -static_cast<std::int64_t>(before - after);
  std::string rel = relative(before, delta);
  return fmt::format("{} -> {} ({}{})", value_text(before, metric), value_text(after, metric),
                     signed_text(delta, metric), rel.empty() || rel == "new" ? "" : ", " + rel);
}

// One gate's outcome: what the totals did and which rows broke it.
std::string gate_detail(const Diff& d, const GateResult& g) {
  Metric m = g.gate.metric;
  std::string out = fmt::format("totals {}", change_of(d.old_totals.value(m), d.new_totals.value(m), m));
  if (!g.rows_checked) {
    return out + fmt::format("; rows not gated ({} is not measured per call site)", metric_name(m));
  }
  if (g.failed_rows.empty()) {
    return out + "; no row broke it";
  }
  constexpr std::size_t listed = 3;
  out += fmt::format("; {} broke it: ", plural(g.failed_rows.size(), "row", "rows"));
  for (std::size_t i = 0; i < g.failed_rows.size() && i < listed; ++i) {
    const DiffRow& r = d.rows[g.failed_rows[i]];
    Metrics before = r.old_metrics.value_or(Metrics{});
    Metrics after = r.new_metrics.value_or(Metrics{});
    out += fmt::format("{}#{} {}: {}", i == 0 ? "" : "; ", g.failed_rows[i] + 1,
                       describe_key(r.key, d.options.by, true), change_of(before.value(m), after.value(m), m));
  }
  if (g.failed_rows.size() > listed) {
    out += fmt::format(" and {} more", grouped(g.failed_rows.size() - listed));
  }
  return out;
}

std::string verdict(const Diff& d) {
  const DiffOptions& o = d.options;
  Metric sorted = sort_metric(o.sort);
  std::int64_t total_delta = d.totals_delta.value(sorted);
  std::string change = fmt::format("{} unchanged", metric_heading(o.sort, either_partial(d)));
  if (total_delta != 0) {
    change =
        fmt::format("{} {} by {} ({})", metric_heading(o.sort, either_partial(d)), total_delta > 0 ? "grew" : "shrank",
                    value_text(magnitude(total_delta), sorted), relative(d.old_totals.value(sorted), total_delta));
  }
  if (d.gates.empty()) {
    return fmt::format("{}; no gate set (--fail-on METRIC:LIMIT)", change);
  }
  std::string failed;
  std::size_t failures = 0;
  for (const GateResult& g : d.gates) {
    if (!g.passed()) {
      failed += (failures++ == 0 ? "" : ", ") + g.gate.text;
    }
  }
  if (failures == 0) {
    return fmt::format("passed: {} held; {}", plural(d.gates.size(), "gate", "gates"), change);
  }
  return fmt::format("REGRESSED: {} of {} failed ({}); {}", grouped(failures), plural(d.gates.size(), "gate", "gates"),
                     failed, change);
}

std::string summary_counts(const Diff& d) {
  return fmt::format("{} new, {} gone, {} changed, {} moved, {} same", grouped(d.counts[0]), grouped(d.counts[1]),
                     grouped(d.counts[2]), grouped(d.counts[3]), grouped(d.counts[4]));
}

std::string totals_line(const Diff& d) {
  const Metrics& a = d.old_totals;
  const Metrics& b = d.new_totals;
  const MetricsDelta& delta = d.totals_delta;
  bool sampled_peak =
      d.old_capture->program.mode != CaptureMode::exact || d.new_capture->program.mode != CaptureMode::exact;
  return fmt::format(
      "allocated {} in {} -> {} in {} ({}, {} blocks); {} {} -> {} ({}); {} {} -> {} ({})", human_bytes(a.alloc_bytes),
      plural(a.alloc_count, "block", "blocks"), human_bytes(b.alloc_bytes), plural(b.alloc_count, "block", "blocks"),
      signed_text(delta.alloc_bytes, Metric::alloc_bytes), signed_text(delta.alloc_count, Metric::alloc_count),
      sampled_peak ? "peak (sampled, at least)" : "peak", human_bytes(a.peak_bytes), human_bytes(b.peak_bytes),
      signed_text(delta.peak_bytes, Metric::peak_bytes), either_partial(d) ? "live at the end" : "leaked",
      human_bytes(a.live_bytes), human_bytes(b.live_bytes), signed_text(delta.live_bytes, Metric::live_bytes));
}

std::vector<std::string> both_notes(const Diff& d) {
  std::vector<std::string> notes;
  for (const auto* side : {&d.old_report, &d.new_report}) {
    std::string_view which = side == &d.old_report ? "old capture: " : "new capture: ";
    for (const std::string& n : report_notes(*side)) {
      notes.push_back(std::string(which) + n);
    }
    if (std::string symbols = symbols_description(side->symbols); !symbols.empty()) {
      notes.push_back(std::string(which) + symbols);
    }
  }
  return notes;
}

constexpr std::string_view legend =
    "Status: new = only in NEW, gone = only in OLD, changed = some metric differs, moved = the same call\n"
    "site (function, file and callers) at another line with all eight metrics equal, same = all eight\n"
    "metrics equal. Rows are matched by function, file and line as the grouping has them (module+offset\n"
    "for code without symbols), never by address, so rebuilt programs still match.\n";

std::vector<std::string> row_cells(const Diff& d, std::size_t i) {
  const DiffRow& r = d.rows[i];
  Metric sorted = sort_metric(d.options.sort);
  Metric other = companion(d.options.sort);
  Metrics before = r.old_metrics.value_or(Metrics{});
  Metrics after = r.new_metrics.value_or(Metrics{});
  return {fmt::to_string(i + 1),
          std::string(diff_status_name(r.status)) + (r.regressed ? " !" : ""),
          value_text(before.value(sorted), sorted),
          value_text(after.value(sorted), sorted),
          signed_text(r.delta.value(sorted), sorted),
          relative(before.value(sorted), r.delta.value(sorted)),
          value_text(before.value(other), other),
          value_text(after.value(other), other),
          signed_text(r.delta.value(other), other),
          location(r, d.options)};
}

}  // namespace

std::string diff_verdict(const Diff& d) {
  return verdict(d);
}

std::string diff_totals_line(const Diff& d) {
  return totals_line(d);
}

std::vector<std::string> diff_notes(const Diff& d) {
  return both_notes(d);
}

std::string render_diff_text(const Diff& d) {
  const DiffOptions& o = d.options;
  std::string out = fmt::format("measure diff: {} -> {}\n", command_line(d.old_capture->program),
                                command_line(d.new_capture->program));
  out += fmt::format("  {}{}\n", o.by == GroupBy::scope ? "one entry of each scope: " : "", totals_line(d));
  out += fmt::format("  {}: {}\n", rows_noun(o.by, 2), summary_counts(d));
  out += fmt::format("\nTop {} of {} {} by change in {}:\n\n", grouped(d.shown), grouped(d.rows.size()),
                     rows_noun(o.by, d.rows.size()), metric_heading(o.sort, either_partial(d)));
  std::string other = companion_heading(d);
  std::vector<std::vector<std::string>> cells;
  cells.push_back({"#", "status", "old", "new", "change", "%", "old " + other, "new " + other, "change", "location"});
  for (std::size_t i = 0; i < d.shown; ++i) {
    cells.push_back(row_cells(d, i));
  }
  std::vector<std::size_t> width(cells.front().size());
  for (const auto& row : cells) {
    for (std::size_t k = 0; k + 1 < row.size(); ++k) {
      width[k] = std::max(width[k], row[k].size());
    }
  }
  for (const auto& row : cells) {
    out += fmt::format("  {:>{}}  {:<{}}", row[0], width[0], row[1], width[1]);
    for (std::size_t k = 2; k + 1 < row.size(); ++k) {
      out += fmt::format("  {:>{}}", row[k], width[k]);
    }
    out += fmt::format("  {}\n", row.back());
  }
  if (!d.gates.empty()) {
    out += "\nGates:\n";
    std::size_t w = 0;
    for (const GateResult& g : d.gates) {
      w = std::max(w, g.gate.text.size());
    }
    for (const GateResult& g : d.gates) {
      out += fmt::format("  {:<6}  {:<{}}  {}\n", g.passed() ? "passed" : "FAILED", g.gate.text, w, gate_detail(d, g));
    }
  }
  out += fmt::format("\nVerdict: {}.\n", verdict(d));
  out += fmt::format("Shown: {} of {} {}{}.\n", grouped(d.shown), grouped(d.rows.size()),
                     rows_noun(o.by, d.rows.size()), d.gates.empty() ? "" : "; '!' marks rows that failed a gate");
  for (const std::string& n : both_notes(d)) {
    out += fmt::format("Note: {}.\n", n);
  }
  out += legend;
  return out;
}

std::string render_diff_json(const Diff& d) {
  std::string out;
  JsonWriter j(out);
  auto metrics = [&](const std::optional<Metrics>& m, MetricSet unknown) {
    if (!m) {
      j.null();
      return;
    }
    j.begin_object();
    detail::write_json_metrics(j, *m, unknown);
    j.end_object();
  };
  auto delta = [&](const MetricsDelta& m, MetricSet unknown) {
    j.begin_object();
    detail::write_json_metrics(j, m, unknown);
    j.end_object();
  };
  j.begin_object();
  j.key("schema").value("measure-diff/1");
  j.key("by").value(group_by_name(d.options.by));
  j.key("sort").value(sort_by_name(d.options.sort));
  j.key("totals").begin_object();
  j.key("old");
  metrics(d.old_totals, d.unknown_in_totals);
  j.key("new");
  metrics(d.new_totals, d.unknown_in_totals);
  j.key("delta");
  delta(d.totals_delta, d.unknown_in_totals);
  j.end_object();
  j.key("counts").begin_object();
  for (std::size_t s = 0; s < diff_status_count; ++s) {
    j.key(diff_status_name(static_cast<DiffStatus>(s))).value(static_cast<std::uint64_t>(d.counts[s]));
  }
  j.end_object();
  j.key("rows").begin_array();
  for (std::size_t i = 0; i < d.shown; ++i) {
    const DiffRow& r = d.rows[i];
    j.begin_object();
    j.key("key");
    detail::write_json_key(j, r.key, d.options.by);
    if (r.old_key) {
      j.key("old_key");
      detail::write_json_key(j, *r.old_key, d.options.by);
    }
    j.key("status").value(diff_status_name(r.status));
    j.key("regressed").value(r.regressed);
    j.key("old");
    metrics(r.old_metrics, d.unknown_in_rows);
    j.key("new");
    metrics(r.new_metrics, d.unknown_in_rows);
    j.key("delta");
    delta(r.delta, d.unknown_in_rows);
    if (d.options.by == GroupBy::scope) {
      j.key("entries").begin_object();
      j.key("old").value(r.old_entries);
      j.key("new").value(r.new_entries);
      j.end_object();
    }
    j.end_object();
  }
  j.end_array();
  j.key("gates").begin_array();
  for (const GateResult& g : d.gates) {
    Metric m = g.gate.metric;
    j.begin_object();
    j.key("metric").value(metric_name(m));
    j.key("limit").value(std::string_view(g.gate.text).substr(g.gate.text.find(':') + 1));
    j.key("passed").value(g.passed());
    j.key("totals").begin_object();
    j.key("old").value(d.old_totals.value(m));
    j.key("new").value(d.new_totals.value(m));
    j.key("change").value(d.totals_delta.value(m));
    j.key("passed").value(!g.totals_failed);
    j.end_object();
    j.key("rows_checked").value(g.rows_checked);
    j.key("failed_rows").begin_array();
    for (std::size_t index : g.failed_rows) {
      const DiffRow& r = d.rows[index];
      j.begin_object();
      j.key("rank").value(static_cast<std::uint64_t>(index + 1));
      j.key("key");
      detail::write_json_key(j, r.key, d.options.by);
      j.key("status").value(diff_status_name(r.status));
      j.key("old").value(r.old_metrics.value_or(Metrics{}).value(m));
      j.key("new").value(r.new_metrics.value_or(Metrics{}).value(m));
      j.key("change").value(r.delta.value(m));
      j.end_object();
    }
    j.end_array();
    j.end_object();
  }
  j.end_array();
  j.key("regressed").value(d.regressed);
  j.end_object();
  out.push_back('\n');
  return out;
}

std::string render_diff_markdown(const Diff& d) {
  const DiffOptions& o = d.options;
  std::string out = fmt::format("### measure diff: `{}` → `{}`\n\n", command_line(d.old_capture->program),
                                command_line(d.new_capture->program));
  out += fmt::format("**{}**\n\n", markdown_cell(verdict(d)));
  const Metrics& a = d.old_totals;
  const Metrics& b = d.new_totals;
  out += "| | old | new | change |\n|:--|--:|--:|--:|\n";
  for (auto [metric, name] : {std::pair{Metric::alloc_bytes, "bytes allocated"},
                              std::pair{Metric::alloc_count, "blocks allocated"}, std::pair{Metric::peak_bytes, "peak"},
                              std::pair{Metric::live_bytes, either_partial(d) ? "live at the end" : "leaked"}}) {
    out += fmt::format("| {} | {} | {} | {} |\n", name, value_text(a.value(metric), metric),
                       value_text(b.value(metric), metric), signed_text(d.totals_delta.value(metric), metric));
  }
  if (!d.gates.empty()) {
    out += "\n| gate | verdict | detail |\n|:--|:--|:--|\n";
    for (const GateResult& g : d.gates) {
      out += fmt::format("| {} | {} | {} |\n", markdown_code(g.gate.text), g.passed() ? "passed" : "**FAILED**",
                         markdown_cell(gate_detail(d, g)));
    }
  }
  std::string noun(rows_noun(o.by, 2));
  noun[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(noun[0])));
  out += fmt::format("\n{}: {}. Top {} by change in {}:\n\n", noun, summary_counts(d), grouped(d.shown),
                     metric_heading(o.sort, either_partial(d)));
  out += fmt::format("| # | status | location | old | new | change | % | {} change |\n", companion_heading(d));
  out += "|--:|:--|:--|--:|--:|--:|--:|--:|\n";
  for (std::size_t i = 0; i < d.shown; ++i) {
    std::vector<std::string> c = row_cells(d, i);
    const DiffRow& r = d.rows[i];
    out += fmt::format("| {} | {}{} | {} | {} | {} | {} | {} | {} |\n", c[0], diff_status_name(r.status),
                       r.regressed ? " ❗" : "", markdown_code(c[9]), c[2], c[3], c[4], c[5], c[8]);
  }
  for (const std::string& n : both_notes(d)) {
    out += fmt::format("\n> {}.\n", markdown_cell(n));
  }
  return out;
}

}  // namespace measure
