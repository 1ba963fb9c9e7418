// The report model: a capture's call sites, symbolized, grouped by a key (stack, function,
// line, file or module), filtered and sorted. Every output format renders this one model.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/capture.h"
#include "support/packed_list.h"
#include "symbols/symbolizer.h"

namespace measure {

enum class GroupBy { stack, function, line, file, module, scope };
enum class SortBy { bytes, count, peak, leaked, temporary };

std::optional<GroupBy> parse_group_by(std::string_view text) noexcept;
std::optional<SortBy> parse_sort_by(std::string_view text) noexcept;
std::string_view group_by_name(GroupBy by) noexcept;
std::string_view sort_by_name(SortBy by) noexcept;
/// The metric a sort key orders by.
Metric sort_metric(SortBy by) noexcept;
/// The value of the metric a sort key orders by.
std::uint64_t sort_value(const Metrics& m, SortBy by) noexcept;

/// A stretch of a recording, in whole intervals of its capture (Capture::intervals).
struct TimeRange {
  std::size_t first = 0;  // the intervals [first, last]
  std::size_t last = 0;
  std::uint64_t from_ns = 0;  // where the first starts and the last ends (since the start of recording)
  std::uint64_t to_ns = 0;
  std::size_t highest = 0;          // the interval in the range after which the most bytes were live
  std::uint64_t highest_at_ns = 0;  // when it ended
  std::size_t interval_count = 0;   // how many intervals the capture has
  friend bool operator==(const TimeRange&, const TimeRange&) = default;
};

struct ReportOptions {
  GroupBy by = GroupBy::line;
  SortBy sort = SortBy::bytes;
  std::size_t top = 10;              // rows to show; 0 shows all
  bool cumulative = false;           // credit every frame of a stack (recursion once)
  std::vector<std::string> include;  // glob patterns; a stack must match one (any frame)
  std::vector<std::string> exclude;  // glob patterns; a stack matching one is left out
  std::string scope;                 // set when the capture was restricted to one named scope
  std::optional<TimeRange> range;    // set when the capture was restricted to a stretch of time
  bool modules = false;              // also group the selected call sites by module (Report::modules)
};

/// The identity of a row. Fields that do not apply to the grouping, or are unknown, are unset.
struct RowKey {
  std::optional<std::string> function;
  std::optional<std::string> file;
  std::optional<std::uint32_t> line;
  std::optional<std::string> module;
  std::optional<std::uint64_t> offset;  // set only when nothing better names the code
  std::optional<std::string> scope;

  /// A stable string form used for grouping, matching across captures and tie-breaking.
  std::string identity() const;
  friend bool operator==(const RowKey&, const RowKey&) = default;
};

struct Row {
  RowKey key;
  Metrics metrics;
  std::size_t stack_count = 0;   // distinct stacks merged into the row
  bool stack_truncated = false;  // the heaviest stack reached the depth limit
  std::size_t heaviest = 0;      // index of the heaviest stack in Report::samples (Report::stack)
  std::uint64_t entries = 0;     // --by scope: how many times the scope was closed
};

/// One selected call site with its symbolized stack, for the formats that draw whole stacks
/// (folded, svg, pprof). Frames are indices into Report::frames, innermost first, with the
/// allocator's own frames removed.
struct Sample {
  PackedList<std::uint32_t> frames;
  Metrics metrics;
  std::uint32_t stack = 0;  // index into Capture::stacks
  /// The index into Report::rows of the one row the sample is credited to; no_row when it is
  /// credited to several (--cumulative) or to none.
  std::uint32_t row = no_row;
  bool truncated = false;  // reached the depth limit
  static constexpr std::uint32_t no_row = UINT32_MAX;
};

struct Report {
  ReportOptions options;
  const Capture* capture = nullptr;
  Metrics totals;         // every recorded allocation
  Metrics selected;       // those passing the include/exclude filters
  std::vector<Row> rows;  // sorted, all of them; formats show the first `shown`
  std::size_t shown = 0;
  std::vector<Frame> frames;           // every distinct symbolized frame, shared by the samples
  std::vector<Sample> samples;         // every selected call site, in stack id order
  std::uint64_t truncated_stacks = 0;  // stacks cut at the depth limit
  std::uint64_t truncated_allocations = 0;
  std::uint64_t partial_stacks = 0;  // unwound before unwind tables were available
  std::uint64_t partial_allocations = 0;
  std::uint64_t unknown_stack_allocations = 0;  // no stack could be recorded
  SymbolizerStats symbols;
  MetricSet unknown_in_rows;    // metrics the rows cannot know (the mode, a scope view): shown as unknown
  MetricSet unknown_in_totals;  // the same for the totals
  /// With ReportOptions::modules: the selected call sites grouped by module and sorted by
  /// bytes allocated, all of them (the summary's top modules). Their `heaviest` is not set.
  std::vector<Row> modules;

  /// The heaviest stack of `row` (by the sort metric), innermost first. Rows keep an index
  /// rather than frames, so a report of 100,000 rows does not copy 100,000 stacks.
  std::vector<Frame> stack(const Row& row) const;
};

/// Symbolizes and groups a capture. Throws UsageError for options it cannot honour, among
/// them sorting by a metric the capture does not measure (Capture::unmeasured_in_sites).
Report build_report(const Capture& capture, const ReportOptions& options);
/// The same with `symbolizer` (made for `capture`), whose resolved addresses stay cached for
/// the next report of the capture.
Report build_report(const Capture& capture, const ReportOptions& options, Symbolizer& symbolizer);

/// The frames of one return address of a given module generation, innermost first, never
/// empty; the reference must stay valid until the report is built (Symbolizer::resolve).
using FrameResolver = std::function<const std::vector<Frame>&(std::uint64_t address, std::uint32_t generation)>;
/// Groups a capture whose frames come from `resolve` instead of libdw (tests give fixed
/// symbols, so golden outputs do not depend on a compiler). Report::symbols stays empty.
Report build_report(const Capture& capture, const ReportOptions& options, const FrameResolver& resolve);

/// The frames of a recorded stack after symbolization, with the allocator's own frames
/// (malloc, operator new, std::allocator ...) removed from its innermost end.
std::vector<Frame> symbolized_stack(const Stack& stack, Symbolizer& symbolizer);

/// True for a frame of the allocator itself (malloc, operator new, std::allocator::allocate
/// ...): reports drop these from the innermost end of a stack.
bool is_allocator_frame(const Frame& frame) noexcept;

/// True for a frame of what starts the program or a thread (_start, __libc_start_main,
/// start_thread, clone3 ...): outside main and the thread functions, on every stack.
bool is_entry_frame(const Frame& frame) noexcept;

/// True for a frame in system headers (/usr/include, the C++ library's headers) or in a
/// system library without source: not the program's own code.
bool is_system_frame(const Frame& frame) noexcept;

/// The frame a stack is attributed to: the innermost one in the program's own code (not in
/// system headers or system libraries), else the innermost one. nullptr for an empty stack.
const Frame* key_frame(const std::vector<Frame>& frames) noexcept;

/// The key of `frame` under `by` (not scope).
RowKey key_for(const Frame* frame, GroupBy by);

/// fnmatch-style glob match of `pattern` against a frame's function (as demangled, without its
/// parameter list, and without its namespaces and classes), file (path or base name) or module.
bool frame_matches(const Frame& frame, const std::string& pattern);

/// A function name without its parameters and qualifiers: "(anonymous namespace)::split(
/// std::string const&) const" gives "(anonymous namespace)::split" (`qualified`) and "split".
std::string_view function_without_parameters(std::string_view name) noexcept;
std::string_view unqualified_function(std::string_view name) noexcept;

/// Shortens template argument lists ("std::vector<int, std::allocator<int> >::push_back"
/// becomes "std::vector<…>::push_back") for display.
std::string shorten_templates(std::string_view name);

namespace detail {

/// A copy of `capture` with what names and describes its stacks (the program, modules, stacks,
/// stored symbols, diagnostics, warnings, the toolkit's memory) and none of its counts (sites,
/// totals, scopes, timeline, summary, intervals): where a view of a part of it starts.
Capture capture_view(const Capture& capture);

/// a - b, or 0 when b is larger: a part of a run may free more than it allocated.
constexpr std::uint64_t floor_difference(std::uint64_t a, std::uint64_t b) noexcept {
  return a > b ? a - b : 0;
}

}  // namespace detail

/// The capture as seen from inside the named scope: its call sites are the scope's per-site
/// counts (allocations and frees made while a scope of that name was open, summed over its
/// entries), its totals the scope's totals, its peak the largest peak of one entry. A site's
/// live values are its net change, floored at zero (a scope may free blocks allocated
/// before it). Throws UsageError naming the scopes there are when `name` is not one of them.
Capture restrict_to_scope(const Capture& capture, const std::string& name);

/// The whole intervals of `capture` that overlap [from_ns, to_ns] (nanoseconds since the start
/// of recording; from_ns == to_ns names the interval that holds that instant). Throws
/// UsageError when the capture has no intervals (recorded in another mode than exact, by an
/// older measure, merged, or an import) or the range lies after the recording's end or is
/// reversed.
TimeRange time_range(const Capture& capture, std::uint64_t from_ns, std::uint64_t to_ns);

/// The capture as seen in `range` (from time_range on the same capture): its call sites hold
/// what each stack allocated and freed in the range, and as live what it held when the range's
/// highest interval ended (TimeRange::highest: the most bytes live at the end of an interval
/// of the range). Peaks, temporaries and the summary are the whole run's, so the view has
/// none; the timeline stays the whole run's.
Capture restrict_to_time(const Capture& capture, const TimeRange& range);

/// `--by scope`: one row per named scope, with its totals over all entries, `entries`, and
/// as peak the largest peak of one entry.
Report scope_report(const Capture& capture, const ReportOptions& options);

/// A scope row's costs per entry (rounded to the nearest whole byte or block): what a diff of
/// scopes compares, so runs that entered a scope a different number of times still compare.
Metrics per_entry(const Metrics& totals, std::uint64_t entries) noexcept;

}  // namespace measure
