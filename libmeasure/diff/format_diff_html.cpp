// The diff as an html page: the report page's script (report/format_html_page.cpp) with both
// captures' stacks in one tree, each call site marked with its side, so the flame graph can
// be drawn with the new capture's widths and coloured by the change; the diff's own rows (as
// it matched them) for the table, and its verdict.
#include <fmt/format.h>

#include "diff/diff.h"
#include "report/formats.h"
#include "report/html_page.h"
#include "support/error.h"

namespace measure {

std::string render_diff_html(const Diff& d) {
  if (d.options.by == GroupBy::scope) {
    throw UsageError("--by scope has no call stacks to draw; use --format text, json or markdown");
  }
  std::string title =
      fmt::format("measure diff: {} -> {}", command_line(d.old_capture->program), command_line(d.new_capture->program));
  std::string data;
  JsonWriter j(data, false);
  j.begin_object();
  j.key("title").value(title);
  j.key("run").value(fmt::format("old: {}; new: {}", run_description(*d.old_capture), run_description(*d.new_capture)));
  j.key("totals").value(diff_totals_line(d));
  j.key("verdict").value(diff_verdict(d));
  j.key("regressed").value(d.regressed);
  j.key("by").value(group_by_name(d.options.by));
  j.key("rows_noun").value(rows_noun(d.options.by, 2));
  j.key("sort").value(metric_name(sort_metric(d.options.sort)));
  j.key("notes").begin_array();
  for (const std::string& note : diff_notes(d)) {
    j.value(note);
  }
  j.end_array();
  detail::write_html_metrics(j, d.unknown_in_rows, d.new_totals);
  detail::HtmlLists first;
  detail::HtmlLists lists;
  detail::HtmlStacks stacks;
  stacks.add(d.old_report, 0);
  stacks.add(d.new_report, 1);
  stacks.write(j, lists, true, &first, sort_metric(d.options.sort));

  // The rows: keys, statuses, whether a gate failed on them, and per metric the old and new
  // values (0 on the side a row is missing from).
  j.key("diff_rows").begin_object();
  j.key("k").begin_array();
  for (const DiffRow& r : d.rows) {
    j.value(describe_key(r.key, d.options.by, true));
  }
  j.end_array();
  j.key("s").begin_array();
  for (const DiffRow& r : d.rows) {
    j.value(diff_status_name(r.status));
  }
  j.end_array();
  std::vector<std::uint64_t> regressed;
  regressed.reserve(d.rows.size());
  for (const DiffRow& r : d.rows) {
    regressed.push_back(r.regressed ? 1 : 0);
  }
  j.key("g").raw(detail::json_number_array(regressed));
  for (const char* side : {"o", "n"}) {
    j.key(side).begin_array();
    for (Metric m : all_metrics) {
      std::vector<std::uint64_t> column;
      column.reserve(d.rows.size());
      for (const DiffRow& r : d.rows) {
        const std::optional<Metrics>& metrics = side[0] == 'o' ? r.old_metrics : r.new_metrics;
        column.push_back(metrics ? metric_member(*metrics, m) : 0);
      }
      j.raw(detail::json_number_array(column));
    }
    j.end_array();
  }
  j.end_object();
  j.end_object();
  return detail::html_document(title, data, first, lists);
}

}  // namespace measure
