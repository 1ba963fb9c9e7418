// Rendering a Report: the one entry point of every output format. Each format is a pure
// function of the report, so outputs are deterministic (golden tests pin them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "report/report.h"
#include "support/json_writer.h"

namespace measure {

enum class ReportFormat { text, json, csv, markdown, folded, svg, pprof, timeline_svg, html, summary };

std::optional<ReportFormat> parse_report_format(std::string_view text) noexcept;
/// Every format's name, in the order of the enum (for help texts and option checks).
std::vector<std::string> report_format_names();

/// Whether `format` shows the summary (report/summary.h), whose top modules need a report
/// built with ReportOptions::modules.
bool shows_summary(ReportFormat format) noexcept;
/// Renders `report` in `format`. The result is text, except for pprof (gzip bytes).
std::string render_report(const Report& report, ReportFormat format);

std::string render_text(const Report& report);
/// The measure-report/1 JSON document (docs/reports.md).
std::string render_json(const Report& report);
/// RFC 4180 comma-separated values: a header line, then the shown rows with every metric.
std::string render_csv(const Report& report);
/// A Markdown summary and table, for pull-request comments and wikis.
std::string render_markdown(const Report& report);
/// Collapsed stacks ("outer;...;inner value" per line) for flamegraph.pl, speedscope and
/// inferno; the value is the --sort metric, stacks with value 0 are left out.
std::string render_folded(const Report& report);
/// A self-contained interactive flame graph (SVG with inline script; no network).
std::string render_svg(const Report& report);
/// One self-contained interactive page (no network): flame graph and icicle, top-down and
/// bottom-up trees, callers and callees, a sortable table; metric, search and hidden frames
/// switch in place.
std::string render_html(const Report& report);
/// A gzip-compressed profile.proto (pprof, Grafana Pyroscope, Parca).
std::string render_pprof(const Report& report);
/// Live bytes and resident memory over the run as a self-contained SVG chart with the peak
/// marked. Throws UsageError when the capture has no timeline.
std::string render_timeline_svg(const Report& report);

/// The timeline as the text report draws it: a header line, `rows` rows of `width` columns
/// of block characters (each column the highest live bytes of its time span, the peak's
/// column the exact peak), the time axis with the peak marked, and a resident-memory
/// sparkline. Empty when the capture has no timeline.
std::vector<std::string> timeline_chart(const CaptureTimeline& timeline, std::size_t width, std::size_t rows);
/// One line for Markdown: the live bytes as a sparkline and the peak. Empty without timeline.
std::string timeline_sparkline(const CaptureTimeline& timeline, std::size_t width);
/// "0.25 ms", "12 ms", "3.5 s", "2 min 5 s", "1 h 3 min".
std::string human_duration(std::uint64_t ns);

/// What the report leaves out and what the capture could not see, one sentence each without
/// the final period (the footer of the text and markdown formats).
std::vector<std::string> report_notes(const Report& report);
/// The program's arguments joined by spaces (its executable when there are none).
std::string command_line(const Program& program);
/// A stack frame's short name, as flame graphs show it: the function, else module+0xoffset.
std::string frame_label(const Frame& frame);
/// The metric a sort key orders by, as people read it ("bytes allocated"); `partial`: of a
/// capture written at a checkpoint (live blocks are not leaks yet).
std::string_view metric_heading(SortBy sort, bool partial = false) noexcept;
/// The same for a report's rows: live blocks are leaks only in a whole run that ended.
std::string_view metric_heading(const Report& report) noexcept;
/// True when a report's live blocks are not leaks: a checkpoint's, a detach's, a time range's.
bool live_is_not_leaked(const Report& report) noexcept;
/// "1 block", "2,048 blocks".
std::string plural(std::uint64_t n, std::string_view one, std::string_view many);
/// Why a capture written at a checkpoint is partial, as one sentence without the final
/// period; empty for a capture written at the program's exit.
std::string partial_description(const Capture& capture);
/// Where a report's symbols came from (stored in the capture, the files on this machine, or
/// nowhere), one sentence without the final period starting in lower case; empty when no
/// module was looked at.
std::string symbols_description(const SymbolizerStats& stats);
/// "pid 1234, exact mode, exit status 0, ran 2.000 s", for report headers.
std::string run_description(const Capture& capture);
/// "from 0.120 s to 0.360 s only (intervals 3-9 of 37): ..." for a report of a time range.
std::string range_description(const TimeRange& range);
/// "Shown: 10 of 42 lines, 93.1% of bytes allocated", without the final period.
std::string shown_description(const Report& report);
/// "peak 1.2 MiB live; leaked 512 B in 2 blocks; 4 temporary allocations", for report headers.
std::string totals_description(const Report& report);
/// "lines", "function" ... for `n` rows grouped by `by`.
std::string_view rows_noun(GroupBy by, std::size_t n) noexcept;
/// `text` escaped for a Markdown table cell (pipes, emphasis and HTML characters).
std::string markdown_cell(std::string_view text);
/// `text` as a Markdown code span for a table cell (pipes escaped, backticks replaced).
std::string markdown_code(std::string_view text);
/// "12.5%" of `whole`; "0%" when `whole` is 0.
std::string percent(std::uint64_t part, std::uint64_t whole);

/// A metric's value as a table shows it: human bytes or a grouped count, "—" when unknown.
std::string metric_cell(const Metrics& m, Metric metric, MetricSet unknown);
/// "512 B", "1.5 KiB", "3.2 MiB" ...
std::string human_bytes(std::uint64_t bytes);
/// "1,234,567"
std::string grouped(std::uint64_t number);
/// A frame as people read it: "function (file:line)", or "module+0xoffset".
std::string describe_frame(const Frame& frame, bool shorten);
/// A row key as people read it.
std::string describe_key(const RowKey& key, GroupBy by, bool shorten);

namespace detail {
/// The selected stacks as sequences of frame labels from the outermost frame in, for the
/// flame-graph formats (folded, svg): those whose --sort metric is not 0, or every one when
/// `with_zero` (the svg's tooltips count the allocations of 0 bytes that a frame led to).
struct StackPaths {
  std::vector<std::string> labels;                // distinct labels, sorted
  std::vector<std::uint32_t> label_frames;        // per label: a frame with it (frames.size(): none)
  std::vector<std::vector<std::uint32_t>> paths;  // per stack: indices into labels
  std::vector<const Sample*> samples;             // per stack: its sample
  std::vector<std::size_t> order;                 // stacks in the lexicographic order of their paths
};
StackPaths stack_paths(const Report& report, std::string (*label)(const Frame&), bool with_zero = false);
/// How the flame graphs colour a frame: 0 the program's own code (warm), 1 system code (cool),
/// 2 a frame without a function name or no frame at all (grey).
int frame_kind(const Frame* frame) noexcept;

/// The eight metrics (Metrics, or the signed MetricsDelta of a diff) as members of the open
/// JSON object, with the glossary's names; those in `unknown` (what the capture or the view
/// cannot know: Report::unknown_in_rows) as null, never 0.
template <class M>
void write_json_metrics(JsonWriter& j, const M& m, MetricSet unknown = {}) {
  for (Metric metric : all_metrics) {
    j.key(metric_name(metric));
    unknown.contains(metric) ? j.null() : j.value(m.value(metric));
  }
}
/// Text for XML character data and attribute values: markup escaped, and anything that is
/// not valid UTF-8 or not allowed in XML 1.0 (control characters) replaced, so an SVG always
/// parses whatever bytes the symbol names hold.
std::string xml_text(std::string_view text);
/// A row key as a JSON object (docs/reports.md: KEY).
void write_json_key(JsonWriter& json, const RowKey& key, GroupBy by);
}  // namespace detail

}  // namespace measure
