// The measure-report/1 JSON document (docs/reports.md): schema, program, mode, by, sort,
// totals, dropped, rows. Metric names are the glossary's; what was not measured is null.
#include "report/formats.h"
#include "report/summary.h"
#include "support/json_writer.h"

namespace measure::detail {

void write_json_key(JsonWriter& j, const RowKey& k, GroupBy by) {
  j.begin_object();
  if (by == GroupBy::scope) {
    j.key("scope").value(k.scope);
  } else {
    j.key("function").value(k.function);
    j.key("file").value(k.file);
    j.key("line").value(k.line);
    j.key("module").value(k.module);
    if (k.offset) {
      j.key("offset").value(*k.offset);
    }
  }
  j.end_object();
}

}  // namespace measure::detail

namespace measure {
namespace {

using detail::write_json_key;
using detail::write_json_metrics;

std::optional<std::string> opt(const std::string& s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(s);
}

void write_frame(JsonWriter& j, const Frame& f) {
  j.begin_object();
  j.key("function").value(opt(f.function));
  j.key("file").value(opt(f.file));
  j.key("line").value(f.line != 0 ? std::optional<std::uint32_t>(f.line) : std::nullopt);
  j.key("module").value(opt(f.module));
  j.key("offset").value(f.offset);
  j.key("inlined").value(f.inlined);
  j.end_object();
}

}  // namespace

std::string render_json(const Report& r) {
  const Capture& c = *r.capture;
  std::string out;
  JsonWriter j(out);
  j.begin_object();
  j.key("schema").value("measure-report/1");
  j.key("program").begin_object();
  j.key("executable").value(c.program.executable);
  j.key("argv").begin_array();
  for (const std::string& a : c.program.arguments) {
    j.value(a);
  }
  j.end_array();
  j.key("pid").value(c.program.pid);
  if (c.program.exit) {
    j.key("exit_status").value(c.program.exit->status);
    j.key("signal").value(c.program.exit->signal != 0 ? std::optional<std::uint32_t>(c.program.exit->signal)
                                                      : std::nullopt);
  } else {
    j.key("exit_status").null();
    j.key("signal").null();
  }
  j.key("duration_ns").value(c.program.duration_ns);
  j.key("merged_captures").value(std::max<std::uint64_t>(c.diagnostic("merged_captures"), 1));
  j.key("attached").value(c.diagnostic("attached") != 0);
  j.end_object();
  j.key("partial").value(c.partial());
  j.key("mode").value(mode_name(c.program.mode));
  // Sampled and counters modes keep no exact process peak: totals.peak_bytes is a lower bound.
  j.key("peak_kind").value(c.program.mode == CaptureMode::exact ? "exact" : "sampled");
  j.key("by").value(group_by_name(r.options.by));
  j.key("sort").value(sort_by_name(r.options.sort));
  j.key("cumulative").value(r.options.cumulative);
  j.key("totals").begin_object();
  write_json_metrics(j, c.totals, r.unknown_in_totals);
  j.end_object();
  j.key("selected").begin_object();
  MetricSet selected_unknown = r.unknown_in_rows;
  // Scope rows' peaks are each the largest of one entry: their sum is no moment's peak.
  if (r.options.by == GroupBy::scope) {
    selected_unknown.add(Metric::peak_bytes);
  }
  write_json_metrics(j, r.selected, selected_unknown);
  j.end_object();
  j.key("timeline");
  if (!c.timeline.empty()) {
    const CaptureTimeline& t = c.timeline;
    j.begin_object();
    j.key("interval_ns").value(t.interval_ns);
    j.key("peak").begin_object();
    j.key("bytes").value(t.peak_bytes);
    j.key("after_ns").value(t.peak_after_ns);
    j.key("before_ns").value(t.peak_before_ns);
    j.end_object();
    j.key("samples").begin_array();
    for (const TimelineSample& s : t.samples) {
      j.begin_inline_array().value(s.time_ns).value(s.live_bytes).value(s.resident_bytes).end_array();
    }
    j.end_array();
    j.end_object();
  } else {
    j.null();
  }
  if (r.options.by != GroupBy::scope) {
    j.key("summary");
    write_json_summary(j, r, summarize(r));
  }
  j.key("scope");
  if (!r.options.scope.empty() && !c.scopes.empty()) {
    j.begin_object();
    j.key("name").value(r.options.scope);
    j.key("entries").value(c.scopes.front().entries);
    j.key("peak_bytes").value(c.scopes.front().peak_max);
    j.end_object();
  } else {
    j.null();
  }
  j.key("range");
  if (const std::optional<TimeRange>& range = r.options.range) {
    j.begin_object();
    j.key("from_ns").value(range->from_ns);
    j.key("to_ns").value(range->to_ns);
    j.key("first_interval").value(static_cast<std::uint64_t>(range->first));
    j.key("last_interval").value(static_cast<std::uint64_t>(range->last));
    j.key("intervals").value(static_cast<std::uint64_t>(range->interval_count));
    j.key("live_at_ns").value(range->highest_at_ns);
    j.end_object();
  } else {
    j.null();
  }
  j.key("dropped").begin_object();
  j.key("rows_not_shown").value(static_cast<std::uint64_t>(r.rows.size() - r.shown));
  j.key("truncated_stacks").value(r.truncated_stacks);
  j.key("truncated_allocations").value(r.truncated_allocations);
  j.key("partial_stacks").value(r.partial_stacks);
  j.key("partial_allocations").value(r.partial_allocations);
  j.key("unknown_stack_allocations").value(r.unknown_stack_allocations);
  for (const char* name : {"unmatched_frees", "mismatched_frees", "dropped_events", "unknown_stacks",
                           "bootstrap_allocations", "untraced_forks", "untraced_execs", "freed_before_attach"}) {
    j.key(name).value(c.diagnostic(name));
  }
  j.end_object();
  j.key("symbols").begin_object();
  j.key("stored_modules").value(static_cast<std::uint64_t>(r.symbols.modules_from_capture));
  j.key("file_modules").value(static_cast<std::uint64_t>(r.symbols.modules_from_files));
  j.key("missing_modules").value(static_cast<std::uint64_t>(r.symbols.modules_without_file));
  j.key("changed_modules").value(static_cast<std::uint64_t>(r.symbols.modules_build_id_mismatch));
  j.end_object();
  j.key("toolkit").begin_object();
  j.key("bytes").value(c.toolkit_bytes);
  j.key("peak_bytes").value(c.toolkit_peak_bytes);
  j.end_object();
  j.key("warnings").begin_array();
  for (const std::string& w : c.warnings) {
    j.value(w);
  }
  j.end_array();
  j.key("rows").begin_array();
  for (std::size_t i = 0; i < r.shown; ++i) {
    const Row& row = r.rows[i];
    j.begin_object();
    j.key("key");
    write_json_key(j, row.key, r.options.by);
    write_json_metrics(j, row.metrics, r.unknown_in_rows);
    j.key("stacks").value(static_cast<std::uint64_t>(row.stack_count));
    if (r.options.by == GroupBy::scope) {
      // A scope row: its entries and its costs per entry (the stack fields do not apply).
      j.key("entries").value(row.entries);
      j.key("per_entry").begin_object();
      write_json_metrics(j, per_entry(row.metrics, row.entries), r.unknown_in_rows);
      j.end_object();
      j.end_object();
      continue;
    }
    j.key("stack_truncated").value(row.stack_truncated);
    j.key("stack").begin_array();
    for (std::uint32_t f : r.samples[row.heaviest].frames) {
      write_frame(j, r.frames[f]);
    }
    j.end_array();
    j.end_object();
  }
  j.end_array();
  j.end_object();
  out.push_back('\n');
  return out;
}

}  // namespace measure
