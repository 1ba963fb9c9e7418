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
  std::string out =
      "rank,function,file,line,module,offset,alloc_count,alloc_bytes,free_count,freed_bytes,live_count,live_bytes,"
      "peak_bytes,temporary_count,stacks\n";
  detail::Unknown unknown = detail::unknown_in_rows(r);
  for (std::size_t i = 0; i < r.shown; ++i) {
    const Row& row = r.rows[i];
    const RowKey& k = row.key;
    const Metrics& m = row.metrics;
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", i + 1, csv_optional(k.function),
                       csv_optional(k.file), csv_optional(k.line), csv_optional(k.module), csv_optional(k.offset),
                       m.alloc_count, m.alloc_bytes, m.free_count, m.freed_bytes, m.live_count, m.live_bytes,
                       unknown.peak ? std::string() : fmt::to_string(m.peak_bytes),
                       unknown.temporary ? std::string() : fmt::to_string(m.temporary_count), row.stack_count);
  }
  return out;
}

std::string render_markdown(const Report& r) {
  const Capture& c = *r.capture;
  const Metrics& t = c.totals;
  std::string command = command_line(c.program);
  std::string out = fmt::format("### measure report: `{}`\n\n", command);
  detail::Unknown unknown = detail::unknown_in_rows(r);
  if (!r.options.scope.empty() && !c.scopes.empty()) {
    out += fmt::format("Inside scope `{}` only: {} entries, peak up to {} in one entry.\n\n", r.options.scope,
                       grouped(c.scopes.front().entries), human_bytes(c.scopes.front().peak_max));
  }
  out += fmt::format("Allocated **{}** in {} blocks, peak **{}** live, leaked **{}** in {} blocks, {} ({} mode).\n\n",
                     human_bytes(t.alloc_bytes), grouped(t.alloc_count), human_bytes(t.peak_bytes),
                     human_bytes(t.live_bytes), grouped(t.live_count),
                     detail::unknown_in_totals(r).temporary
                         ? std::string("temporaries are not tracked inside scopes")
                         : fmt::format("{} temporary allocations", grouped(t.temporary_count)),
                     mode_name(c.program.mode));
  if (std::string line = timeline_sparkline(c.timeline, 40); !line.empty() && r.options.scope.empty()) {
    out += line + ".\n\n";
  }
  out += fmt::format("Top {} of {} {} by {}{}:\n\n", r.shown, r.rows.size(), rows_noun(r.options.by, r.rows.size()),
                     metric_heading(r.options.sort), r.options.cumulative ? " (cumulative)" : "");
  out += "| # | allocated | blocks | peak | leaked | leaked blocks | temporary | location |\n";
  out += "|--:|--:|--:|--:|--:|--:|--:|:--|\n";
  for (std::size_t i = 0; i < r.shown; ++i) {
    const Row& row = r.rows[i];
    const Metrics& m = row.metrics;
    out += fmt::format(
        "| {} | {} | {} | {} | {} | {} | {} | {} |\n", i + 1, human_bytes(m.alloc_bytes), grouped(m.alloc_count),
        unknown.peak ? "-" : human_bytes(m.peak_bytes), human_bytes(m.live_bytes), grouped(m.live_count),
        unknown.temporary ? "-" : grouped(m.temporary_count), markdown_code(describe_key(row.key, r.options.by, true)));
  }
  std::uint64_t shown_bytes = 0;
  for (std::size_t i = 0; i < r.shown; ++i) {
    shown_bytes += r.rows[i].metrics.alloc_bytes;
  }
  out += fmt::format("\nShown: {} of {} {}, {} of bytes allocated.\n", r.shown, r.rows.size(),
                     rows_noun(r.options.by, r.rows.size()), percent(shown_bytes, r.selected.alloc_bytes));
  for (const std::string& note : report_notes(r)) {
    out += fmt::format("\n> {}.\n", markdown_cell(note));
  }
  out += fmt::format("\nToolkit memory: {} at the end, {} at most (not included above).\n",
                     human_bytes(c.toolkit_bytes), human_bytes(c.toolkit_peak_bytes));
  return out;
}

}  // namespace measure
