// The summary statistics of a capture (docs/reports.md, "Summary"): allocations by size
// class, lifetimes, the split by thread, the largest single allocations and the top modules.
// One model, shown by `--format summary`, the JSON report and the html page's summary panel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "report/report.h"
#include "support/json_writer.h"

namespace measure {

/// Blocks and bytes of one lifetime class; unset when the capture cannot know them (the light
/// modes keep no temporaries; a capture without a summary section has no temporaries' bytes).
struct LifetimeCounts {
  std::optional<std::uint64_t> count;
  std::optional<std::uint64_t> bytes;
};

struct Summary {
  /// False when the capture has no summary section (an import, an in-process snapshot, a
  /// scope view): sizes, threads and the largest allocations are then unknown, and only
  /// what the totals and call sites give is shown.
  bool recorded = false;
  struct SizeRow {
    std::uint64_t from = 0;   // the smallest size of the class
    std::uint64_t below = 0;  // one past its largest (0: no bound, the class of 2^63 bytes and more)
    std::uint64_t count = 0;
    std::uint64_t bytes = 0;
  };
  std::vector<SizeRow> sizes;  // classes holding allocations, smallest first
  LifetimeCounts temporary;    // freed before the allocating thread's next allocation
  LifetimeCounts freed;        // freed later (every free when temporaries are unknown)
  LifetimeCounts live;         // never freed (live at the end, or when a partial capture was written)
  std::uint64_t inherited_count = 0;
  std::uint64_t inherited_bytes = 0;
  struct Largest {
    LargestAllocation block;
    std::optional<RowKey> site;  // its stack's line (as `--by line` keys it); unset without a stack
    std::vector<Frame> stack;    // innermost first, the allocator's frames removed
  };
  std::vector<Largest> largest;       // largest first
  std::vector<ThreadCounts> threads;  // by bytes allocated, most first; the capture's order on ties
  std::uint64_t other_threads = 0;    // exited threads not listed one by one, and their counts
  ThreadCounts other;
  std::vector<const Row*> modules;  // Report::modules, by bytes allocated
};

/// The summary of `report`'s capture. `report` must outlive it (modules point into it).
Summary summarize(const Report& report);

/// One lifetime class as every view shows it: its name, the JSON member that holds it
/// ("temporary", "freed" or "live") and its counts.
struct LifetimeRow {
  std::string name;
  std::string_view member;
  LifetimeCounts counts;
};
/// The rows of the lifetimes table: temporary and freed later (or one class of freed blocks
/// when temporaries are unknown), then the blocks never freed (live when the partial capture
/// `capture` was written).
std::vector<LifetimeRow> lifetime_rows(const Summary& summary, const Capture& capture);
/// Where a largest allocation was made: its line, or "(no stack)".
std::string largest_site(const Summary::Largest& largest);
/// Said in place of the sizes, threads and largest allocations of a capture without them.
inline constexpr std::string_view summary_unrecorded =
    "This capture holds no summary statistics (an import, a scope view, a time range or an older capture): sizes, "
    "threads and the largest allocations are not known.";

/// `--format summary`: the summary as text (sizes as a histogram).
std::string render_summary(const Report& report);

/// The summary as the value of a JSON member (docs/reports.md): what the capture does not
/// know is null.
void write_json_summary(JsonWriter& json, const Report& report, const Summary& summary);

/// "0 B", "1 B", "2-4 B", "512 B-1 KiB", "1-2 KiB" ... for a size class (from, up to below).
std::string size_class_label(const Summary::SizeRow& row);

}  // namespace measure
