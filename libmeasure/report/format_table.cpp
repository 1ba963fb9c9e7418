// The two tabular formats: CSV (every metric of the shown rows, for spreadsheets and
// scripts) and Markdown (a summary, a table and the footer notes, for pull requests).
#include <fmt/format.h>

#include "report/formats.h"

namespace measure {
namespace {

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    return std::string(text);
  }
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') {
      out.push_back('"');
    }
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

template <class T>
std::string csv_optional(const std::optional<T>& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return v ? csv_field(*v) : std::string();
  } else {
    return v ? fmt::to_string(*v) : std::string();
  }
}

}  // namespace

std::string markdown_cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|' || c == '\\' || c == '`' || c == '*' || c == '_' || c == '<' || c == '>') {
      out.push_back('\\');
    }
    out.push_back(c == '\n' ? ' ' : c);
  }
  return out;
}

std::string markdown_code(std::string_view text) {
  std::string out = "`";
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else {
      out.push_back(c == '`' ? '\'' : c == '\n' ? ' ' : c);
    }
  }
  out.push_back('`');
  return out;
}

std::string render_csv(const Report& r) {
  std::string out = "rank,function,file,line,module,offset";
  for (Metric m : all_metrics) {
    out += fmt::format(",{}", metric_name(m));
  }
  out += ",stacks\n";
  for (std::size_t i = 0; i < r.shown; ++i) {
    const Row& row = r.rows[i];
    const RowKey& k = row.key;
    out += fmt::format("{},{},{},{},{},{}", i + 1, csv_optional(k.function), csv_optional(k.file), csv_optional(k.line),
                       csv_optional(k.module), csv_optional(k.offset));
    for (Metric m : all_metrics) {
      out += r.unknown_in_rows.contains(m) ? std::string(",—") : fmt::format(",{}", row.metrics.value(m));
    }
    out += fmt::format(",{}\n", row.stack_count);
  }
  return out;
}

std::string render_markdown(const Report& r) {
  const Capture& c = *r.capture;
  const Metrics& t = c.totals;
  std::string out = fmt::format("### measure report: `{}`\n\n", command_line(c.program));
  MetricSet unknown = r.unknown_in_rows;
  if (!r.options.scope.empty() && !c.scopes.empty()) {
    out += fmt::format("Inside scope `{}` only: {}, peak up to {} in one entry.\n\n", r.options.scope,
                       plural(c.scopes.front().entries, "entry", "entries"), human_bytes(c.scopes.front().peak_max));
  }
  out += fmt::format("{}.\n\n", markdown_cell(run_description(c)));
  out += fmt::format("Allocated **{}** in {}; {}.\n\n", human_bytes(t.alloc_bytes),
                     plural(t.alloc_count, "block", "blocks"), markdown_cell(totals_description(r)));
  if (std::string line = timeline_sparkline(c.timeline, 40); !line.empty() && r.options.scope.empty()) {
    out += line + ".\n\n";
  }
  out += fmt::format("Top {} of {} {} by {}{}:\n\n", grouped(r.shown), grouped(r.rows.size()),
                     rows_noun(r.options.by, r.rows.size()), metric_heading(r),
                     r.options.cumulative ? " (cumulative)" : "");
  out += fmt::format("| # | allocated | blocks | peak | {} | {} blocks | temporary | location |\n",
                     live_is_not_leaked(r) ? "live" : "leaked", live_is_not_leaked(r) ? "live" : "leaked");
  out += "|--:|--:|--:|--:|--:|--:|--:|:--|\n";
  for (std::size_t i = 0; i < r.shown; ++i) {
    const Row& row = r.rows[i];
    const Metrics& m = row.metrics;
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", i + 1,
                       metric_cell(m, Metric::alloc_bytes, unknown), metric_cell(m, Metric::alloc_count, unknown),
                       metric_cell(m, Metric::peak_bytes, unknown), metric_cell(m, Metric::live_bytes, unknown),
                       metric_cell(m, Metric::live_count, unknown), metric_cell(m, Metric::temporary_count, unknown),
                       markdown_code(describe_key(row.key, r.options.by, true)));
  }
  out += fmt::format("\n{}.\n", shown_description(r));
  for (const std::string& note : report_notes(r)) {
    out += fmt::format("\n> {}.\n", markdown_cell(note));
  }
  if (std::string symbols = symbols_description(r.symbols); !symbols.empty()) {
    symbols[0] = 'S';
    out += fmt::format("\n{}.\n", markdown_cell(symbols));
  }
  out += fmt::format("\nToolkit memory: {} at the end, {} at most (not included above).\n",
                     human_bytes(c.toolkit_bytes), human_bytes(c.toolkit_peak_bytes));
  return out;
}

}  // namespace measure
