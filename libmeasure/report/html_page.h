// The html pages' shared parts (report and diff): the stacks as the page's script reads them,
// and the document around a page's data. docs/reports.md describes the pages.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "report/report.h"
#include "support/json_writer.h"

namespace measure::detail {

/// The page's lists of numbers, kept apart from its JSON: each list as LEB128 varints (7 bits
/// a byte, low first) in one block, which the page gets deflated (zlib) and in base64 and
/// inflates with the browser's DecompressionStream. A list in the JSON is [offset, bytes]
/// into the block. Small numbers take one byte, and the tree's repeated shapes deflate well:
/// stacks-1t's lists are 3.7 MB as varints and 0.86 MB as the page holds them.
class HtmlLists {
 public:
  /// Appends `values` and returns their reference, "[offset,bytes]".
  std::string add(const std::vector<std::uint64_t>& values);
  /// The block, deflated, in base64. Throws Error when zlib fails.
  std::string encoded() const;
  /// The block's size before it is deflated.
  std::size_t size() const { return m_bytes.size(); }

 private:
  std::string m_bytes;
};

/// The selected stacks of one or two reports (a diff's sides), merged into one tree of frame
/// labels. Written as the members "labels", "short", "kinds", "nodes", "node_count" and
/// "samples" of the page's data (format_html.cpp describes the coding).
class HtmlStacks {
 public:
  /// Adds every sample of `report` (those of no width too, so the tree's root agrees with the
  /// report's header) as side `side`: 0, or 1 for a diff's new capture. `report` must outlive
  /// this object.
  void add(const Report& report, std::uint8_t side);
  /// Writes the members, their lists into `lists`; `sides`: also each sample's side ("s").
  /// With `first`: also the member "first", the tree's frames that can be drawn for metric
  /// `metric` in a window up to 4096 pixels wide, in `first` (the page paints them while it
  /// reads the rest). Renumbers the stacks' labels in place: call it once, after the last
  /// add().
  void write(JsonWriter& json, HtmlLists& lists, bool sides, HtmlLists* first = nullptr, Metric metric = Metric{});
  /// After write(): the position of `sample` (one a report added) in the page's samples, or
  /// UINT32_MAX when it was not added.
  std::uint32_t position(const Sample* sample) const;

 private:
  struct Side {
    std::uint8_t side = 0;
    std::vector<std::string> labels;  // sorted
    std::vector<int> kinds;
    std::vector<std::vector<std::uint32_t>> paths;  // outermost first, indices into labels
    std::vector<const Sample*> samples;
    std::vector<std::size_t> order;  // the paths in lexicographic order
  };
  std::vector<Side> m_sides;
  std::vector<std::pair<const Sample*, std::uint32_t>> m_positions;  // sorted by sample
};

/// The member "metrics": per metric its name, whether it counts bytes, whether it is
/// `unknown` (not measured per call site), and its `totals`.
void write_html_metrics(JsonWriter& json, MetricSet unknown, const Metrics& totals);

/// "[1,2,3]" (JsonWriter's own arrays put every number on a line of its own).
std::string json_number_array(const std::vector<std::uint64_t>& values);

/// The page's script, one function in five parts: the data and trees
/// (format_html_script.cpp), the views (format_html_views.cpp), the summary panel
/// (format_html_summary.cpp), the time range (format_html_range.cpp), the table, controls
/// and timeline (format_html_controls.cpp).
extern const std::string_view html_script_model;
extern const std::string_view html_script_views;
extern const std::string_view html_script_summary;
extern const std::string_view html_script_range;
extern const std::string_view html_script_controls;

/// The whole page: style, markup and script around `data` (a JSON object) and its lists,
/// titled `title`. `first` holds the lists of the first paint (read before the rest of the
/// page is), `lists` the others; `later`, when given, lists the page reads only when asked
/// for (a time range's).
std::string html_document(std::string_view title, const std::string& data, const HtmlLists& first,
                          const HtmlLists& lists, const HtmlLists* later = nullptr);

}  // namespace measure::detail
