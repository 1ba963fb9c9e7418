// The html format's data. The page (format_html_page.cpp and its script) gets one JSON
// document and a block of lists, compact enough for large captures (0.9 MB for a program's
// 200,000 distinct stacks):
// - "labels": the distinct frame labels, sorted; "short": each as the frames show it, with
//   template arguments shortened ("" when the same); "kinds": per label 0 the program's
//   code, 1 system code, 2 no name (for the colours);
// - "nodes": the merged stack tree in depth-first order, children in label order, the root
//   ("all") implicit: per node its label times 2, plus 1 when it is not the child of the node
//   before it, then how many levels it climbs from that node;
// - "samples": every selected call site in tree order: "n", its node as the difference from
//   the previous sample's; "r", its report row (4294967295: several or none); "m", one list
//   per metric; for a diff "s", its side (0 old, 1 new);
// - "max_depth": the tree's deepest level; "first", the first view: the part of the tree the
//   flame graph draws for the first metric, coded the same way, with one list "m" of that
//   metric (and "s" for a diff; FirstView).
// Every list of numbers is a reference into one of the page's blocks of lists (HtmlLists):
// the first view's and the timeline's in the small block the page reads first.
// The page sums the samples for whichever metric is chosen, so switching metrics, zooming,
// searching and folding frames need no new report.
#include <zlib.h>

#include <algorithm>

#include <fmt/format.h>

#include "report/formats.h"
#include "report/html_page.h"
#include "report/summary.h"
#include "support/error.h"

namespace measure {
namespace detail {

std::string json_number_array(const std::vector<std::uint64_t>& values) {
  std::string out;
  out.reserve(values.size() * 4 + 2);
  out.push_back('[');
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) {
      out.push_back(',');
    }
    fmt::format_to(std::back_inserter(out), "{}", values[i]);
  }
  out.push_back(']');
  return out;
}

std::string HtmlLists::add(const std::vector<std::uint64_t>& values) {
  std::size_t offset = m_bytes.size();
  for (std::uint64_t v : values) {
    while (v >= 0x80) {
      m_bytes.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    m_bytes.push_back(static_cast<char>(v));
  }
  return fmt::format("[{},{}]", offset, m_bytes.size() - offset);
}

std::string HtmlLists::encoded() const {
  uLongf size = compressBound(static_cast<uLong>(m_bytes.size()));
  std::string deflated(size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(deflated.data()), &size, reinterpret_cast<const Bytef*>(m_bytes.data()),
                static_cast<uLong>(m_bytes.size()), 6) != Z_OK) {
    throw Error("html: zlib could not deflate the page's data");
  }
  deflated.resize(size);
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(deflated.size() / 3 * 4 + 4);
  auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(deflated[k])); };
  std::size_t i = 0;
  for (; i + 3 <= deflated.size(); i += 3) {
    std::uint32_t w = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) {
      out.push_back(alphabet[(w >> shift) & 63]);
    }
  }
  if (std::size_t rest = deflated.size() - i; rest != 0) {
    std::uint32_t w = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out.push_back(alphabet[(w >> 18) & 63]);
    out.push_back(alphabet[(w >> 12) & 63]);
    out.push_back(rest == 2 ? alphabet[(w >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

namespace {

// Appends a node of the tree's coding ("nodes"): its label, and how many levels it climbs
// from the node before it.
void append_node(std::vector<std::uint64_t>& nodes, std::uint32_t label, std::uint64_t climb) {
  nodes.push_back(std::uint64_t{label} * 2 + (climb != 0 ? 1 : 0));
  if (climb != 0) {
    nodes.push_back(climb);
  }
}

// Every frame a window up to 4096 pixels wide draws is at least half a pixel wide.
constexpr std::uint64_t first_view_parts = 8192;

// The first view of the tree of `paths` (sorted, as the page's tree is written), each with
// its `values` of the metric and, for a diff, its side (`sides`: 0 old, 1 new; empty: every
// path counts as new): the nodes the page's flame graph looks at, those whose new total is at
// least 1/8192 of the root's and every child of those (where a narrow one starts decides
// where its next sibling does). A node is a range of paths sharing its path as a prefix, so
// its totals are differences of running sums, and only the wide nodes' ranges are read.
class FirstView {
 public:
  FirstView(const std::vector<const std::vector<std::uint32_t>*>& paths, const std::vector<std::uint64_t>& values,
            const std::vector<std::uint8_t>& sides)
      : m_paths(paths), m_sides(!sides.empty()) {
    for (Side& side : m_side) {
      side.sums.assign(values.size() + 1, 0);
    }
    for (std::size_t k = 0; k < values.size(); ++k) {
      bool old = m_sides && sides[k] == 0;
      m_side[0].sums[k + 1] = m_side[0].sums[k] + (old ? 0 : values[k]);
      m_side[1].sums[k + 1] = m_side[1].sums[k] + (old ? values[k] : 0);
    }
    std::uint64_t root = m_side[0].sums.back();
    m_threshold = std::max<std::uint64_t>(root / first_view_parts + (root % first_view_parts != 0 ? 1 : 0), 1);
    for (Side& side : m_side) {
      side.left.push_back(side.sums.back());
    }
    visit(0, paths.size(), 0, 0);
  }
  /// Writes the member "first", its lists into `first`.
  void write(JsonWriter& j, HtmlLists& first, Metric metric) const {
    std::vector<std::uint64_t> steps;
    std::vector<std::uint64_t> sides;
    std::vector<std::uint64_t> values;
    std::uint64_t previous = 0;
    for (std::uint64_t k = 0; k < m_side[0].left.size(); ++k) {
      for (int s : {1, 0}) {  // the old side first, as the page's samples are
        if (m_side[s].left[k] != 0) {
          steps.push_back(k - previous);
          sides.push_back(s == 0 ? 1 : 0);
          values.push_back(m_side[s].left[k]);
          previous = k;
        }
      }
    }
    j.key("first").begin_object();
    j.key("metric").value(metric_name(metric));
    j.key("nodes").raw(first.add(m_nodes));
    j.key("node_count").value(static_cast<std::uint64_t>(m_side[0].left.size()));
    j.key("samples").begin_object();
    j.key("count").value(static_cast<std::uint64_t>(steps.size()));
    j.key("n").raw(first.add(steps));
    if (m_sides) {
      j.key("s").raw(first.add(sides));
    }
    j.key("m").raw(first.add(values));
    j.end_object();
    j.end_object();
  }

 private:
  struct Side {
    std::vector<std::uint64_t> sums;  // of the first k paths' values
    std::vector<std::uint64_t> left;  // per node: its total less its children's in the view
  };

  // The children of node `node`, at depth `depth`, whose paths are [lo, hi): the paths that
  // end at it sort first, then one range per child.
  void visit(std::size_t lo, std::size_t hi, std::size_t depth, std::size_t node) {
    std::size_t k = lo;
    while (k < hi && m_paths[k]->size() == depth) {
      ++k;
    }
    while (k < hi) {
      std::uint32_t label = (*m_paths[k])[depth];
      std::size_t end = k + 1;
      while (end < hi && (*m_paths[end])[depth] == label) {
        ++end;
      }
      append_node(m_nodes, label, m_last_depth - depth);  // the child is at depth + 1
      m_last_depth = depth + 1;
      std::size_t child = m_side[0].left.size();
      for (Side& side : m_side) {
        std::uint64_t total = side.sums[end] - side.sums[k];
        side.left.push_back(total);
        side.left[node] -= total;
      }
      if (m_side[0].left[child] >= m_threshold) {
        visit(k, end, depth + 1, child);
      }
      k = end;
    }
  }

  const std::vector<const std::vector<std::uint32_t>*>& m_paths;
  bool m_sides;
  Side m_side[2];  // the new (or only) side, the old side
  std::uint64_t m_threshold = 1;
  std::vector<std::uint64_t> m_nodes;  // coded as the page's "nodes"
  std::size_t m_last_depth = 0;
};

}  // namespace

void HtmlStacks::add(const Report& report, std::uint8_t side) {
  Side& s = m_sides.emplace_back();
  s.side = side;
  StackPaths p = stack_paths(report, frame_label, true);
  for (std::uint32_t frame : p.label_frames) {
    s.kinds.push_back(frame_kind(frame < report.frames.size() ? &report.frames[frame] : nullptr));
  }
  s.labels = std::move(p.labels);
  s.paths = std::move(p.paths);
  s.samples = std::move(p.samples);
  s.order = std::move(p.order);
}

void HtmlStacks::write(JsonWriter& j, HtmlLists& lists, bool sides, HtmlLists* first, Metric metric) {
  // One sorted list of labels over every side, and each side's labels in it.
  std::vector<std::string> labels;
  for (const Side& s : m_sides) {
    labels.insert(labels.end(), s.labels.begin(), s.labels.end());
  }
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  std::vector<std::uint64_t> kinds(labels.size());
  std::vector<std::vector<std::uint32_t>> label_of(m_sides.size());
  for (std::size_t k = 0; k < m_sides.size(); ++k) {
    for (std::size_t i = 0; i < m_sides[k].labels.size(); ++i) {
      auto at = static_cast<std::uint32_t>(std::lower_bound(labels.begin(), labels.end(), m_sides[k].labels[i]) -
                                           labels.begin());
      label_of[k].push_back(at);
      kinds[at] = static_cast<std::uint64_t>(m_sides[k].kinds[i]);
    }
  }
  // The renumbering keeps the labels' order, so each side's paths stay in the order
  // stack_paths sorted them, and the sides need only be merged (the old side first on ties).
  struct Entry {
    const std::vector<std::uint32_t>* path;
    const Sample* sample;
    std::uint8_t side;
  };
  std::vector<Entry> entries;
  for (std::size_t k = 0; k < m_sides.size(); ++k) {
    Side& s = m_sides[k];
    for (std::vector<std::uint32_t>& path : s.paths) {
      for (std::uint32_t& l : path) {
        l = label_of[k][l];
      }
    }
    std::size_t middle = entries.size();
    for (std::size_t i : s.order) {
      entries.push_back({&s.paths[i], s.samples[i], s.side});
    }
    std::inplace_merge(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(middle), entries.end(),
                       [](const Entry& a, const Entry& b) { return *a.path < *b.path; });
  }

  // Paths in lexicographic order share their common prefix with the one before; a path equal
  // to the one before ends at the same node.
  m_positions.clear();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    m_positions.emplace_back(entries[i].sample, static_cast<std::uint32_t>(i));
  }
  std::sort(m_positions.begin(), m_positions.end());

  std::vector<std::uint64_t> nodes;
  std::vector<std::uint64_t> sample_nodes;
  std::vector<std::uint64_t> sample_rows;
  std::vector<std::uint64_t> sample_sides;
  std::vector<std::vector<std::uint64_t>> columns(std::size(all_metrics));
  std::uint64_t node_count = 1;  // the root
  std::size_t last_depth = 0;
  std::size_t max_depth = 0;
  std::uint64_t last_sample_node = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::vector<std::uint32_t>& path = *entries[i].path;
    std::size_t common = 0;
    if (i != 0) {
      const std::vector<std::uint32_t>& previous = *entries[i - 1].path;
      while (common < path.size() && common < previous.size() && path[common] == previous[common]) {
        ++common;
      }
    }
    for (std::size_t d = common; d < path.size(); ++d) {
      append_node(nodes, path[d], last_depth - d);  // the new node is at depth d + 1, the root at 0
      last_depth = d + 1;
      max_depth = std::max(max_depth, last_depth);
      ++node_count;
    }
    // Shorter paths sort first, so a path that adds no node equals the one before.
    std::uint64_t node = i != 0 && common == path.size() ? last_sample_node : node_count - 1;
    sample_nodes.push_back(node - last_sample_node);
    last_sample_node = node;
    const Sample& sample = *entries[i].sample;
    sample_rows.push_back(sample.row);
    sample_sides.push_back(entries[i].side);
    for (std::size_t m = 0; m < std::size(all_metrics); ++m) {
      columns[m].push_back(metric_member(sample.metrics, all_metrics[m]));
    }
  }

  j.key("labels").begin_array();
  for (const std::string& label : labels) {
    j.value(label);
  }
  j.end_array();
  // What the frames show: template arguments shortened ("" where that changes nothing).
  j.key("short").begin_array();
  for (const std::string& label : labels) {
    std::string shown = shorten_templates(label);
    j.value(shown == label ? std::string() : shown);
  }
  j.end_array();
  j.key("kinds").raw(json_number_array(kinds));
  j.key("nodes").raw(lists.add(nodes));
  j.key("node_count").value(node_count);
  j.key("max_depth").value(static_cast<std::uint64_t>(max_depth));
  j.key("samples").begin_object();
  j.key("count").value(static_cast<std::uint64_t>(entries.size()));
  j.key("n").raw(lists.add(sample_nodes));
  j.key("r").raw(lists.add(sample_rows));
  if (sides) {
    j.key("s").raw(lists.add(sample_sides));
  }
  j.key("m").begin_array();
  for (const std::vector<std::uint64_t>& column : columns) {
    j.raw(lists.add(column));
  }
  j.end_array();
  j.end_object();
  if (first != nullptr) {
    std::vector<const std::vector<std::uint32_t>*> paths;
    std::vector<std::uint64_t> values;
    std::vector<std::uint8_t> path_sides;
    paths.reserve(entries.size());
    values.reserve(entries.size());
    for (const Entry& e : entries) {
      paths.push_back(e.path);
      values.push_back(metric_member(e.sample->metrics, metric));
      if (sides) {
        path_sides.push_back(e.side);
      }
    }
    FirstView(paths, values, path_sides).write(j, *first, metric);
  }
}

std::uint32_t HtmlStacks::position(const Sample* sample) const {
  auto it =
      std::lower_bound(m_positions.begin(), m_positions.end(), std::pair<const Sample*, std::uint32_t>{sample, 0});
  return it != m_positions.end() && it->first == sample ? it->second : UINT32_MAX;
}

void write_html_metrics(JsonWriter& j, MetricSet unknown, const Metrics& totals) {
  j.key("metrics").begin_array();
  for (Metric m : all_metrics) {
    j.begin_object();
    j.key("name").value(metric_name(m));
    j.key("bytes").value(is_byte_metric(m));
    j.key("unknown").value(unknown.contains(m));
    j.key("total").value(metric_member(totals, m));
    j.end_object();
  }
  j.end_array();
}

}  // namespace detail

namespace {

// The capture's intervals, for the page's time range: per interval its end, the toolkit's
// memory then and the process's live bytes then (as the intervals count them), in `lists`
// (the first paint's: the timeline draws them);
// and its changes as (page sample, four counts), in `later` (read at the first range). Each
// interval's changes are in page order, their samples as differences from the one before,
// which deflate well; changes of stacks the report left out are dropped.
void write_intervals(JsonWriter& j, const Report& r, const detail::HtmlStacks& stacks, detail::HtmlLists& lists,
                     detail::HtmlLists& later) {
  const std::vector<CaptureInterval>& intervals = r.capture->intervals;
  std::vector<std::uint64_t> ends;
  std::vector<std::uint64_t> toolkit;
  std::vector<std::uint64_t> live;
  std::vector<std::uint64_t> counts;
  std::vector<std::uint64_t> samples;
  std::vector<std::vector<std::uint64_t>> m(4);
  std::int64_t live_now = 0;
  std::vector<std::pair<std::uint32_t, IntervalChange>> kept;
  for (const CaptureInterval& v : intervals) {
    kept.clear();
    for (const IntervalChange& c : v.changes) {
      live_now += static_cast<std::int64_t>(c.alloc_bytes) - static_cast<std::int64_t>(c.freed_bytes);
      auto it = std::lower_bound(r.samples.begin(), r.samples.end(), c.stack,
                                 [](const Sample& s, std::uint32_t stack) { return s.stack < stack; });
      std::uint32_t at = it != r.samples.end() && it->stack == c.stack ? stacks.position(&*it) : UINT32_MAX;
      if (at != UINT32_MAX) {
        kept.emplace_back(at, c);
      }
    }
    std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::uint32_t previous = 0;
    for (const auto& [at, c] : kept) {
      samples.push_back(at - previous);
      previous = at;
      for (std::uint64_t k = 0; std::uint64_t value : {c.alloc_count, c.alloc_bytes, c.free_count, c.freed_bytes}) {
        m[k++].push_back(value);
      }
    }
    ends.push_back(v.end_ns);
    toolkit.push_back(v.toolkit_bytes);
    live.push_back(live_now > 0 ? static_cast<std::uint64_t>(live_now) : 0);
    counts.push_back(kept.size());
  }
  j.key("intervals").begin_object();
  j.key("end").raw(lists.add(ends));
  j.key("toolkit").raw(lists.add(toolkit));
  j.key("live").raw(lists.add(live));
  j.key("count").raw(lists.add(counts));
  j.key("sample").raw(later.add(samples));
  j.key("m").begin_array();
  for (const std::vector<std::uint64_t>& column : m) {
    j.raw(later.add(column));
  }
  j.end_array();
  j.end_object();
}

// The summary panel's data: the JSON report's summary, the labels the text summary prints,
// and what its shares are of.
void write_summary(JsonWriter& j, const Report& r) {
  const Capture& c = *r.capture;
  Summary summary = summarize(r);
  j.key("summary");
  write_json_summary(j, r, summary);
  j.key("summary_labels").begin_object();
  j.key("sizes").begin_array();
  for (const Summary::SizeRow& row : summary.sizes) {
    j.value(size_class_label(row));
  }
  j.end_array();
  j.key("largest").begin_array();
  for (const Summary::Largest& l : summary.largest) {
    j.value(largest_site(l));
  }
  j.end_array();
  j.key("lifetimes").begin_array();
  for (const LifetimeRow& row : lifetime_rows(summary, c)) {
    j.begin_object();
    j.key("name").value(row.name);
    j.key("member").value(row.member);
    j.end_object();
  }
  j.end_array();
  j.key("unrecorded").value(summary_unrecorded);
  j.key("modules").begin_array();
  for (const Row* row : summary.modules) {
    j.value(describe_key(row->key, GroupBy::module, true));
  }
  j.end_array();
  j.end_object();
  j.key("summary_totals").begin_object();
  j.key("alloc_count").value(c.totals.alloc_count);
  j.key("alloc_bytes").value(c.totals.alloc_bytes);
  j.end_object();
}

}  // namespace

std::string render_html(const Report& r) {
  const Capture& c = *r.capture;
  std::string data;
  JsonWriter j(data, false);
  j.begin_object();
  j.key("title").value(fmt::format("measure: {}", command_line(c.program)));
  j.key("run").value(run_description(c));
  j.key("totals").value(totals_description(r));
  j.key("by").value(group_by_name(r.options.by));
  j.key("rows_noun").value(rows_noun(r.options.by, 2));
  j.key("sort").value(metric_name(sort_metric(r.options.sort)));
  j.key("notes").begin_array();
  for (const std::string& note : report_notes(r)) {
    j.value(note);
  }
  j.end_array();
  detail::write_html_metrics(j, r.unknown_in_rows, r.selected);
  detail::HtmlLists first;
  detail::HtmlLists lists;
  if (!c.timeline.empty()) {
    // Live bytes and resident memory over the run, for the strip above the views.
    const CaptureTimeline& t = c.timeline;
    std::vector<std::uint64_t> times;
    std::vector<std::uint64_t> live;
    std::vector<std::uint64_t> resident;
    for (const TimelineSample& s : t.samples) {
      times.push_back(s.time_ns);
      live.push_back(s.live_bytes);
      resident.push_back(s.resident_bytes);
    }
    j.key("timeline").begin_object();
    j.key("peak_bytes").value(t.peak_bytes);
    j.key("peak_after_ns").value(t.peak_after_ns);
    j.key("peak_before_ns").value(t.peak_before_ns);
    j.key("toolkit_bytes").value(c.toolkit_bytes);
    j.key("t").raw(first.add(times));
    j.key("live").raw(first.add(live));
    j.key("rss").raw(first.add(resident));
    j.end_object();
  }
  detail::HtmlStacks stacks;
  stacks.add(r, 0);
  stacks.write(j, lists, false, &first, sort_metric(r.options.sort));
  detail::HtmlLists later;
  bool ranges = !c.intervals.empty() && !r.options.range && r.options.scope.empty();
  if (ranges) {
    write_intervals(j, r, stacks, first, later);
  }
  if (r.options.cumulative) {
    // A sample counts toward several rows: the rows' own sums, as the report made them.
    j.key("row_metrics").begin_array();
    for (Metric m : all_metrics) {
      std::vector<std::uint64_t> column;
      column.reserve(r.rows.size());
      for (const Row& row : r.rows) {
        column.push_back(metric_member(row.metrics, m));
      }
      j.raw(detail::json_number_array(column));
    }
    j.end_array();
  }
  j.key("rows").begin_array();
  for (const Row& row : r.rows) {
    j.value(describe_key(row.key, r.options.by, true));
  }
  j.end_array();
  write_summary(j, r);
  j.end_object();
  return detail::html_document(fmt::format("measure: {}", command_line(c.program)), data, first, lists,
                               ranges ? &later : nullptr);
}

}  // namespace measure
