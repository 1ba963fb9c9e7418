// Rendering a Diff: text for people (an aligned table with signed deltas, a verdict and a
// footer), measure-diff/1 JSON for machines, Markdown for pull-request comments.
#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "diff/diff.h"
#include "report/formats.h"
#include "support/json_writer.h"

namespace measure {
namespace {

// A row's place, and for scopes how often each run entered them (their metrics are per entry).
std::string location(const DiffRow& r, GroupBy by) {
  std::string where = describe_key(r.key, by, true);
  if (by == GroupBy::scope) {
    where += fmt::format(" ({} → {} entries; per entry)", r.old_entries, r.new_entries);
  }
  return where;
}

bool counts_blocks(SortBy sort) noexcept {
  return sort == SortBy::count || sort == SortBy::temporary;
}

std::uint64_t magnitude(std::int64_t v) noexcept {
  return v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
}

std::string signed_bytes(std::int64_t v) {
  return v == 0 ? "0 B" : fmt::format("{}{}", v > 0 ? "+" : "-", human_bytes(magnitude(v)));
}

std::string signed_count(std::int64_t v) {
  return v == 0 ? "0" : fmt::format("{}{}", v > 0 ? "+" : "-", grouped(magnitude(v)));
}

std::string metric_text(std::uint64_t v, bool blocks) {
  return blocks ? grouped(v) : human_bytes(v);
}

std::string signed_metric(std::int64_t v, bool blocks) {
  return blocks ? signed_count(v) : signed_bytes(v);
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

struct Columns {
  std::uint64_t old_value, new_value, old_other, new_other;
  std::int64_t delta, other_delta;
};

// The sort metric and a second one (blocks beside bytes, bytes beside counts).
Columns columns(const DiffRow& d, SortBy sort) {
  Metrics before = d.old_metrics.value_or(Metrics{});
  Metrics after = d.new_metrics.value_or(Metrics{});
  bool blocks = counts_blocks(sort);
  return {sort_value(before, sort),
          sort_value(after, sort),
          blocks ? before.alloc_bytes : before.alloc_count,
          blocks ? after.alloc_bytes : after.alloc_count,
          sort_delta(d.delta, sort),
          blocks ? d.delta.alloc_bytes : d.delta.alloc_count};
}

std::string threshold_text(const DiffOptions& o) {
  std::string text = fmt::format("{}%", *o.fail_on_increase);
  if (o.min_bytes != 0) {
    text += fmt::format(" and at least {}", human_bytes(o.min_bytes));
  }
  return text;
}

std::string verdict(const Diff& d) {
  const DiffOptions& o = d.options;
  std::int64_t total_delta = sort_delta(d.totals_delta, o.sort);
  std::string change = fmt::format("{} unchanged", metric_heading(o.sort));
  if (total_delta != 0) {
    change = fmt::format("{} {} by {} ({})", metric_heading(o.sort), total_delta > 0 ? "grew" : "shrank",
                         metric_text(magnitude(total_delta), counts_blocks(o.sort)),
                         relative(sort_value(d.old_totals, o.sort), total_delta));
  }
  if (!o.fail_on_increase) {
    return fmt::format("{}; no threshold set (--fail-on-increase PERCENT)", change);
  }
  if (!d.regressed) {
    return fmt::format("no regression: nothing grew by more than {}; {}", threshold_text(o), change);
  }
  std::size_t rows = 0;
  const DiffRow* first = nullptr;
  for (const DiffRow& r : d.rows) {
    if (r.regressed) {
      ++rows;
      first = first == nullptr ? &r : first;
    }
  }
  std::string what =
      rows == 0 ? "the totals"
                : fmt::format("{} {}{}", rows, rows == 1 ? "row" : "rows", d.totals_regressed ? " and the totals" : "");
  std::string where =
      first == nullptr ? std::string() : fmt::format(", first {}", describe_key(first->key, o.by, true));
  return fmt::format("REGRESSED: {} grew by more than {} (bytes or blocks allocated){}; {}", what, threshold_text(o),
                     where, change);
}

std::string summary_counts(const Diff& d) {
  return fmt::format("{} new, {} gone, {} changed, {} same", d.counts[0], d.counts[1], d.counts[2], d.counts[3]);
}

std::string totals_line(const Metrics& a, const Metrics& b, const MetricsDelta& delta) {
  return fmt::format(
      "allocated {} in {} blocks -> {} in {} blocks ({}, {} blocks); peak {} -> {} ({}); leaked {} -> {} ({})",
      human_bytes(a.alloc_bytes), grouped(a.alloc_count), human_bytes(b.alloc_bytes), grouped(b.alloc_count),
      signed_bytes(delta.alloc_bytes), signed_count(delta.alloc_count), human_bytes(a.peak_bytes),
      human_bytes(b.peak_bytes), signed_bytes(delta.peak_bytes), human_bytes(a.live_bytes), human_bytes(b.live_bytes),
      signed_bytes(delta.live_bytes));
}

std::vector<std::string> both_notes(const Diff& d) {
  std::vector<std::string> notes;
  for (const std::string& n : report_notes(d.old_report)) {
    notes.push_back("old capture: " + n);
  }
  for (const std::string& n : report_notes(d.new_report)) {
    notes.push_back("new capture: " + n);
  }
  return notes;
}

constexpr std::string_view legend =
    "Status: new = only in NEW, gone = only in OLD, changed = some metric differs, same = all eight metrics\n"
    "equal. Rows are matched by function, file and line as the grouping has them (module+offset for code\n"
    "without symbols), never by address, so rebuilt programs still match.\n";

}  // namespace

std::string render_diff_text(const Diff& d) {
  const DiffOptions& o = d.options;
  bool blocks = counts_blocks(o.sort);
  std::string out = fmt::format("measure diff: {} -> {}\n", command_line(d.old_capture->program),
                                command_line(d.new_capture->program));
  out += fmt::format("  {}{}\n", o.by == GroupBy::scope ? "one entry of each scope: " : "",
                     totals_line(d.old_totals, d.new_totals, d.totals_delta));
  out += fmt::format("  {}: {}\n", rows_noun(o.by, 2), summary_counts(d));
  out += fmt::format("\nTop {} of {} {} by change in {}:\n\n", d.shown, d.rows.size(), rows_noun(o.by, d.rows.size()),
                     metric_heading(o.sort));
  std::vector<std::vector<std::string>> cells;
  cells.push_back({"#", "status", "old", "new", "change", "%", blocks ? "old bytes" : "old blocks",
                   blocks ? "new bytes" : "new blocks", "change", "location"});
  for (std::size_t i = 0; i < d.shown; ++i) {
    const DiffRow& r = d.rows[i];
    Columns c = columns(r, o.sort);
    cells.push_back({fmt::to_string(i + 1), std::string(diff_status_name(r.status)) + (r.regressed ? " !" : ""),
                     metric_text(c.old_value, blocks), metric_text(c.new_value, blocks), signed_metric(c.delta, blocks),
                     relative(c.old_value, c.delta), metric_text(c.old_other, !blocks),
                     metric_text(c.new_other, !blocks), signed_metric(c.other_delta, !blocks), location(r, o.by)});
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
  out += fmt::format("\nVerdict: {}.\n", verdict(d));
  out += fmt::format("Shown: {} of {} {}{}.\n", d.shown, d.rows.size(), rows_noun(o.by, d.rows.size()),
                     o.fail_on_increase ? "; '!' marks rows past the threshold" : "");
  for (const std::string& n : both_notes(d)) {
    out += fmt::format("Note: {}.\n", n);
  }
  out += legend;
  return out;
}

std::string render_diff_json(const Diff& d) {
  std::string out;
  JsonWriter j(out);
  // Scopes record no temporaries (formats.h: Unknown).
  detail::Unknown unknown{false, d.options.by == GroupBy::scope};
  auto metrics = [&](const std::optional<Metrics>& m) {
    if (!m) {
      j.null();
      return;
    }
    j.begin_object();
    detail::write_json_metrics(j, *m, unknown);
    j.end_object();
  };
  auto delta = [&](const MetricsDelta& m) {
    j.begin_object();
    detail::write_json_metrics(j, m, unknown);
    j.end_object();
  };
  j.begin_object();
  j.key("schema").value("measure-diff/1");
  j.key("by").value(group_by_name(d.options.by));
  j.key("totals").begin_object();
  j.key("old");
  metrics(d.old_totals);
  j.key("new");
  metrics(d.new_totals);
  j.key("delta");
  delta(d.totals_delta);
  j.end_object();
  j.key("rows").begin_array();
  for (std::size_t i = 0; i < d.shown; ++i) {
    const DiffRow& r = d.rows[i];
    j.begin_object();
    j.key("key");
    detail::write_json_key(j, r.key, d.options.by);
    j.key("status").value(diff_status_name(r.status));
    j.key("old");
    metrics(r.old_metrics);
    j.key("new");
    metrics(r.new_metrics);
    j.key("delta");
    delta(r.delta);
    if (d.options.by == GroupBy::scope) {
      j.key("entries").begin_object();
      j.key("old").value(r.old_entries);
      j.key("new").value(r.new_entries);
      j.end_object();
    }
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
  bool blocks = counts_blocks(o.sort);
  std::string out = fmt::format("### measure diff: `{}` → `{}`\n\n", command_line(d.old_capture->program),
                                command_line(d.new_capture->program));
  out += fmt::format("**{}**\n\n", markdown_cell(verdict(d)));
  const Metrics& a = d.old_totals;
  const Metrics& b = d.new_totals;
  out += "| | old | new | change |\n|:--|--:|--:|--:|\n";
  out += fmt::format("| bytes allocated | {} | {} | {} |\n", human_bytes(a.alloc_bytes), human_bytes(b.alloc_bytes),
                     signed_bytes(d.totals_delta.alloc_bytes));
  out += fmt::format("| blocks allocated | {} | {} | {} |\n", grouped(a.alloc_count), grouped(b.alloc_count),
                     signed_count(d.totals_delta.alloc_count));
  out += fmt::format("| peak | {} | {} | {} |\n", human_bytes(a.peak_bytes), human_bytes(b.peak_bytes),
                     signed_bytes(d.totals_delta.peak_bytes));
  out += fmt::format("| leaked | {} | {} | {} |\n", human_bytes(a.live_bytes), human_bytes(b.live_bytes),
                     signed_bytes(d.totals_delta.live_bytes));
  std::string noun(rows_noun(o.by, 2));
  noun[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(noun[0])));
  out += fmt::format("\n{}: {}. Top {} by change in {}:\n\n", noun, summary_counts(d), d.shown, metric_heading(o.sort));
  out += fmt::format("| # | status | location | old | new | change | % | {} change |\n", blocks ? "bytes" : "blocks");
  out += "|--:|:--|:--|--:|--:|--:|--:|--:|\n";
  for (std::size_t i = 0; i < d.shown; ++i) {
    const DiffRow& r = d.rows[i];
    Columns c = columns(r, o.sort);
    out += fmt::format("| {} | {}{} | {} | {} | {} | {} | {} | {} |\n", i + 1, diff_status_name(r.status),
                       r.regressed ? " ❗" : "", markdown_code(location(r, o.by)), metric_text(c.old_value, blocks),
                       metric_text(c.new_value, blocks), signed_metric(c.delta, blocks), relative(c.old_value, c.delta),
                       signed_metric(c.other_delta, !blocks));
  }
  for (const std::string& n : both_notes(d)) {
    out += fmt::format("\n> {}.\n", markdown_cell(n));
  }
  return out;
}

}  // namespace measure
