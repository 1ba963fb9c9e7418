// A stretch of time in reports (--from/--to, the html page's time range): the capture's
// intervals summed over the range, and what was live at its highest point.
#include <algorithm>

#include <fmt/format.h>

#include "report/formats.h"
#include "report/report.h"
#include "support/error.h"

namespace measure {
namespace {

std::string seconds(std::uint64_t ns) {
  return fmt::format("{:.3f} s", static_cast<double>(ns) / 1e9);
}

}  // namespace

TimeRange time_range(const Capture& capture, std::uint64_t from_ns, std::uint64_t to_ns) {
  const std::vector<CaptureInterval>& v = capture.intervals;
  if (v.empty()) {
    throw UsageError(fmt::format(
        "--from/--to: this capture has no intervals of time ({}); exact-mode recordings by `measure run` and "
        "`measure attach` have them",
        capture.program.mode != CaptureMode::exact
            ? fmt::format("it was recorded in {} mode", mode_name(capture.program.mode))
            : std::string("merged, imported, or recorded without them")));
  }
  if (from_ns > to_ns) {
    throw UsageError(fmt::format("--from {} is after --to {}", seconds(from_ns), seconds(to_ns)));
  }
  std::uint64_t end = v.back().end_ns;
  if (from_ns > end || (from_ns == end && to_ns > from_ns)) {
    throw UsageError(fmt::format("--from {}: the recording ends at {}", seconds(from_ns), seconds(end)));
  }
  TimeRange r;
  r.interval_count = v.size();
  // Interval i spans (end of i - 1, end of i]; the first starts at 0.
  auto start_of = [&](std::size_t i) { return i == 0 ? 0 : v[i - 1].end_ns; };
  r.first = static_cast<std::size_t>(
      std::lower_bound(v.begin(), v.end(), from_ns,
                       [](const CaptureInterval& x, std::uint64_t t) { return x.end_ns < t; }) -
      v.begin());
  // A range that starts where an interval ends starts with the next one.
  if (v[r.first].end_ns == from_ns && to_ns > from_ns && r.first + 1 < v.size()) {
    ++r.first;
  }
  r.last = r.first;
  while (r.last + 1 < v.size() && start_of(r.last + 1) < to_ns) {
    ++r.last;
  }
  r.from_ns = start_of(r.first);
  r.to_ns = v[r.last].end_ns;
  // The process's live bytes at each interval's end, as the intervals count them.
  std::int64_t live = 0;
  std::int64_t highest = INT64_MIN;
  for (std::size_t i = 0; i <= r.last; ++i) {
    for (const IntervalChange& c : v[i].changes) {
      live += static_cast<std::int64_t>(c.alloc_bytes) - static_cast<std::int64_t>(c.freed_bytes);
    }
    // As the html page has them: never below 0 (an attach, a fork child's first frees).
    std::int64_t shown = std::max<std::int64_t>(live, 0);
    if (i >= r.first && shown > highest) {
      highest = shown;
      r.highest = i;
    }
  }
  r.highest_at_ns = v[r.highest].end_ns;
  return r;
}

Capture restrict_to_time(const Capture& capture, const TimeRange& range) {
  Capture view = detail::capture_view(capture);
  view.resident_bytes = capture.resident_bytes;
  view.threads = capture.threads;
  view.timeline = capture.timeline;
  struct Sums {
    Metrics in_range;
    std::uint64_t allocated_count = 0;  // up to the end of the highest interval
    std::uint64_t allocated_bytes = 0;
    std::uint64_t freed_count = 0;
    std::uint64_t freed_bytes = 0;
  };
  std::vector<Sums> sums(capture.stacks.size());
  std::size_t through = std::max(range.last, range.highest);
  for (std::size_t i = 0; i <= through && i < capture.intervals.size(); ++i) {
    for (const IntervalChange& c : capture.intervals[i].changes) {
      Sums& s = sums[c.stack];
      if (i >= range.first && i <= range.last) {
        s.in_range.alloc_count += c.alloc_count;
        s.in_range.alloc_bytes += c.alloc_bytes;
        s.in_range.free_count += c.free_count;
        s.in_range.freed_bytes += c.freed_bytes;
      }
      if (i <= range.highest) {
        s.allocated_count += c.alloc_count;
        s.allocated_bytes += c.alloc_bytes;
        s.freed_count += c.free_count;
        s.freed_bytes += c.freed_bytes;
      }
    }
  }
  for (std::uint32_t stack = 0; stack < sums.size(); ++stack) {
    Sums& s = sums[stack];
    s.in_range.live_count = detail::floor_difference(s.allocated_count, s.freed_count);
    s.in_range.live_bytes = detail::floor_difference(s.allocated_bytes, s.freed_bytes);
    if (s.in_range == Metrics{}) {
      continue;
    }
    view.sites.push_back(Site{stack, s.in_range});
    view.totals += s.in_range;
  }
  return view;
}

std::string range_description(const TimeRange& r) {
  return fmt::format("from {} to {} only ({} of {}): allocated and freed in it; live at {}, its highest point",
                     seconds(r.from_ns), seconds(r.to_ns),
                     r.first == r.last ? fmt::format("interval {}", r.first + 1)
                                       : fmt::format("intervals {}-{}", r.first + 1, r.last + 1),
                     r.interval_count, seconds(r.highest_at_ns));
}

}  // namespace measure
