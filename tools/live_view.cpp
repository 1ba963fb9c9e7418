#include "tools/live_view.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "report/formats.h"
#include "tools/terminal.h"

namespace measure::tools {
namespace {

double per_second(std::uint64_t amount, std::uint64_t ns) {
  return ns == 0 ? 0.0 : static_cast<double>(amount) * 1e9 / static_cast<double>(ns);
}

std::string human_rate(double bytes_per_second) {
  return human_bytes(static_cast<std::uint64_t>(std::llround(bytes_per_second))) + "/s";
}

std::string_view sort_label(LiveSort sort) {
  return sort == LiveSort::live_bytes ? "live bytes" : "allocation rate";
}

std::string thread_label(const ThreadCounts& t) {
  std::string name = t.name.empty() ? fmt::format("thread {}", t.os_thread_id) : t.name;
  return fmt::format("{}: {} ({}){}", name, plural(t.alloc_count, "allocation", "allocations"),
                     human_bytes(t.alloc_bytes), t.running ? "" : ", exited");
}

}  // namespace

LiveFrame make_live_frame(const Capture& capture, const Report& report, LiveSort sort, LiveHistory& history) {
  LiveFrame frame;
  frame.program = command_line(capture.program);
  frame.pid = capture.program.pid;
  frame.mode = capture.program.mode;
  frame.time_ns = capture.program.duration_ns;
  frame.totals = capture.totals;
  frame.timeline = &capture.timeline;
  frame.sort = sort;
  frame.by = report.options.by;

  // Rates since the previous capture; on the first, since the start. A capture of another
  // process image (the program exec'd) starts the rates over.
  bool earlier =
      history.time_ns != 0 && history.time_ns < frame.time_ns && history.alloc_bytes <= frame.totals.alloc_bytes;
  std::uint64_t since = earlier ? history.time_ns : 0;
  std::uint64_t elapsed = frame.time_ns - since;
  frame.bytes_per_second = per_second(frame.totals.alloc_bytes - (earlier ? history.alloc_bytes : 0), elapsed);
  frame.allocations_per_second = per_second(frame.totals.alloc_count - (earlier ? history.alloc_count : 0), elapsed);

  std::unordered_map<std::string, std::uint64_t> now;
  now.reserve(report.rows.size());
  frame.rows.reserve(report.rows.size());
  for (const Row& row : report.rows) {
    std::string identity = row.key.identity();
    std::uint64_t before = 0;
    if (earlier) {
      auto it = history.row_alloc_bytes.find(identity);
      before = it == history.row_alloc_bytes.end() ? 0 : std::min(it->second, row.metrics.alloc_bytes);
    }
    frame.rows.push_back(LiveRow{describe_key(row.key, report.options.by, true), row.metrics.live_bytes,
                                 row.metrics.live_count, row.metrics.alloc_bytes,
                                 per_second(row.metrics.alloc_bytes - before, elapsed)});
    now.emplace(std::move(identity), row.metrics.alloc_bytes);
  }
  std::stable_sort(frame.rows.begin(), frame.rows.end(), [&](const LiveRow& a, const LiveRow& b) {
    if (sort == LiveSort::rate && a.bytes_per_second != b.bytes_per_second) {
      return a.bytes_per_second > b.bytes_per_second;
    }
    return a.live_bytes > b.live_bytes;
  });
  if (capture.summary.recorded) {
    frame.threads = capture.summary.threads;
    std::stable_sort(frame.threads.begin(), frame.threads.end(),
                     [](const ThreadCounts& a, const ThreadCounts& b) { return a.alloc_bytes > b.alloc_bytes; });
  }

  history.time_ns = frame.time_ns;
  history.alloc_bytes = frame.totals.alloc_bytes;
  history.alloc_count = frame.totals.alloc_count;
  history.row_alloc_bytes = std::move(now);
  return frame;
}

std::string render_live(const LiveFrame& f, const LiveLayout& layout) {
  unsigned columns = layout.columns;
  unsigned lines = layout.lines;
  bool keys = layout.keys;
  std::vector<std::string> out;
  out.push_back(fmt::format("measure live: pid {}, {} mode, {}: {}", f.pid, mode_name(f.mode),
                            human_duration(f.time_ns), f.program));
  // The light modes keep no exact peak: theirs is the highest seen at sample points.
  std::string peak = f.mode == CaptureMode::exact
                         ? fmt::format("peak {}", human_bytes(f.totals.peak_bytes))
                         : fmt::format("peak at least {}, sampled", human_bytes(f.totals.peak_bytes));
  out.push_back(fmt::format("live {} in {}, {}; allocating {} ({} allocations/s)", human_bytes(f.totals.live_bytes),
                            plural(f.totals.live_count, "block", "blocks"), peak, human_rate(f.bytes_per_second),
                            grouped(static_cast<std::uint64_t>(std::llround(f.allocations_per_second)))));
  out.push_back(fmt::format("allocated {} in {}; freed {} in {}", human_bytes(f.totals.alloc_bytes),
                            plural(f.totals.alloc_count, "block", "blocks"), human_bytes(f.totals.freed_bytes),
                            plural(f.totals.free_count, "block", "blocks")));
  // The chart when the screen has room for it and the rows below.
  if (layout.chart && f.timeline != nullptr && !f.timeline->empty() && lines >= 28 && columns > 30) {
    out.emplace_back();
    for (std::string& line : timeline_chart(*f.timeline, columns - 16, lines >= 40 ? 4 : 2)) {
      out.push_back(std::move(line));
    }
  }
  out.emplace_back();
  if (f.mode == CaptureMode::counters) {
    out.emplace_back("Counters mode keeps no call sites, only the totals above (exact and sampled modes do).");
  } else {
    out.push_back(fmt::format("Top call sites by {}, grouped by {}{}:", sort_label(f.sort), group_by_name(f.by),
                              f.mode == CaptureMode::sampled ? " (estimates from the samples)" : ""));
    out.push_back(
        fmt::format("  {:>10}  {:>10}  {:>12}  {:>10}  location", "live", "blocks", "allocating", "allocated"));
  }
  // As many rows as fit (or as asked), and a line for the rest.
  std::size_t reserved = (f.threads.empty() ? 0 : 2) + (keys ? 2 : 0);
  std::size_t room = lines > out.size() + reserved ? lines - out.size() - reserved : 1;
  std::size_t shown = layout.rows != 0 ? std::min(layout.rows, f.rows.size()) : std::min(room, f.rows.size());
  if (layout.rows == 0 && shown < f.rows.size()) {
    shown = shown > 0 ? shown - 1 : 0;
  }
  for (std::size_t i = 0; i < shown; ++i) {
    const LiveRow& r = f.rows[i];
    out.push_back(fmt::format("  {:>10}  {:>10}  {:>12}  {:>10}  {}", human_bytes(r.live_bytes), grouped(r.live_count),
                              human_rate(r.bytes_per_second), human_bytes(r.alloc_bytes), r.location));
  }
  if (shown < f.rows.size()) {
    out.push_back(fmt::format("  ... and {} more", plural(f.rows.size() - shown, "row", "rows")));
  }
  if (!f.threads.empty()) {
    out.emplace_back();
    std::string line = plural(f.threads.size(), "thread", "threads");
    for (std::size_t i = 0; i < f.threads.size(); ++i) {
      line += (i == 0 ? " - " : "; ") + thread_label(f.threads[i]);
    }
    out.push_back(std::move(line));
  }
  if (keys) {
    out.emplace_back();
    out.push_back(fmt::format("q quit   s sort by {}   g group by {}",
                              sort_label(f.sort == LiveSort::live_bytes ? LiveSort::rate : LiveSort::live_bytes),
                              "line, function, file, module, stack"));
  }
  std::string text;
  for (std::size_t i = 0; i < out.size() && i < lines; ++i) {
    text += fit_line(out[i], columns);
    text += '\n';
  }
  return text;
}

}  // namespace measure::tools
