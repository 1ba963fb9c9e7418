// The timeline of a capture (live bytes and resident memory over the run) as the text
// report's small chart, the Markdown report's sparkline and `--format timeline-svg`.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "report/formats.h"
#include "support/error.h"

namespace measure {
namespace {

constexpr std::string_view eighths[] = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};

std::uint64_t end_time(const CaptureTimeline& t) noexcept {
  return std::max(t.samples.back().time_ns, t.peak_before_ns);
}

// Column c covers times [c * end / width, (c + 1) * end / width): its value is the highest
// sample inside it, or, when no sample falls inside, the last one before it (live bytes stay
// what they were until the next sample says otherwise).
std::vector<std::uint64_t> columns(const CaptureTimeline& t, std::size_t width, std::uint64_t TimelineSample::*value) {
  std::vector<std::uint64_t> out(width, 0);
  double end = static_cast<double>(std::max<std::uint64_t>(end_time(t), 1));
  std::size_t next = 0;
  std::uint64_t held = 0;
  for (std::size_t c = 0; c < width; ++c) {
    double limit = end * static_cast<double>(c + 1) / static_cast<double>(width);
    bool any = false;
    std::uint64_t high = 0;
    while (next < t.samples.size() && (static_cast<double>(t.samples[next].time_ns) < limit || c + 1 == width)) {
      high = std::max(high, t.samples[next].*value);
      held = t.samples[next].*value;
      any = true;
      ++next;
    }
    out[c] = any ? high : held;
  }
  return out;
}

std::size_t column_of(std::uint64_t time_ns, std::uint64_t end, std::size_t width) noexcept {
  if (end == 0) {
    return 0;
  }
  auto c =
      static_cast<std::size_t>(static_cast<double>(time_ns) / static_cast<double>(end) * static_cast<double>(width));
  return std::min(c, width - 1);
}

// A bar's height in eighths of a row: anything above zero shows at least one eighth.
std::size_t eighths_of(std::uint64_t value, std::uint64_t top, std::size_t rows) noexcept {
  if (value == 0 || top == 0) {
    return 0;
  }
  auto h = static_cast<std::size_t>(
      std::ceil(static_cast<double>(value) / static_cast<double>(top) * static_cast<double>(rows * 8)));
  return std::clamp<std::size_t>(h, 1, rows * 8);
}

std::string sparkline(const std::vector<std::uint64_t>& values, std::uint64_t top) {
  std::string out;
  for (std::uint64_t v : values) {
    out += eighths[eighths_of(v, top, 1)];
  }
  return out;
}

std::uint64_t peak_time(const CaptureTimeline& t) noexcept {
  return t.peak_after_ns + (t.peak_before_ns - t.peak_after_ns) / 2;
}

// Samples may miss the peak between two of them, but the account's peak is exact: when the
// interval in which it was reached falls within one column, that column shows it. A wider
// interval is left as sampled (drawing the peak at a guessed time would be invented); the
// axis marks its middle and the header gives its bounds.
void show_peak(const CaptureTimeline& t, std::vector<std::uint64_t>& live) {
  std::uint64_t end = end_time(t);
  std::size_t first = column_of(t.peak_after_ns, end, live.size());
  if (first == column_of(t.peak_before_ns, end, live.size())) {
    live[first] = std::max(live[first], t.peak_bytes);
  }
}

std::string peak_text(const CaptureTimeline& t) {
  return fmt::format("peak {} between {} and {}", human_bytes(t.peak_bytes), human_duration(t.peak_after_ns),
                     human_duration(t.peak_before_ns));
}

}  // namespace

std::string human_duration(std::uint64_t ns) {
  if (ns == 0) {
    return "0 s";
  }
  double s = static_cast<double>(ns) / 1e9;
  if (ns < 1000000) {
    return fmt::format("{:.3g} ms", s * 1e3);
  }
  if (s < 0.1) {
    return fmt::format("{:.3g} ms", s * 1e3);  // 1.43 ms, not 1 ms: three figures, as in seconds
  }
  if (s < 1) {
    return fmt::format("{:.0f} ms", s * 1e3);
  }
  if (s < 60) {
    return fmt::format("{:.3g} s", s);
  }
  auto whole = static_cast<std::uint64_t>(s);
  if (whole < 3600) {
    return fmt::format("{} min {} s", whole / 60, whole % 60);
  }
  return fmt::format("{} h {} min", whole / 3600, whole / 60 % 60);
}

std::vector<std::string> timeline_chart(const CaptureTimeline& t, std::size_t width, std::size_t rows) {
  std::vector<std::string> lines;
  if (t.samples.empty() || width == 0 || rows == 0) {
    return lines;
  }
  std::uint64_t end = end_time(t);
  std::vector<std::uint64_t> live = columns(t, width, &TimelineSample::live_bytes);
  std::vector<std::uint64_t> resident = columns(t, width, &TimelineSample::resident_bytes);
  show_peak(t, live);
  std::size_t peak_column = column_of(peak_time(t), end, width);
  std::uint64_t top = std::max(t.peak_bytes, *std::max_element(live.begin(), live.end()));

  std::string top_label = human_bytes(top);
  std::string zero_label = "0 B";
  std::size_t label_width = std::max(top_label.size(), std::string_view("resident").size());
  lines.push_back(fmt::format("Live bytes over {}, one column per {} ({}; resident memory up to {}):",
                              human_duration(end), human_duration((end + width - 1) / width), peak_text(t),
                              human_bytes(*std::max_element(resident.begin(), resident.end()))));
  for (std::size_t r = 0; r < rows; ++r) {
    std::string line = fmt::format("  {:>{}} {} ",
                                   r == 0          ? top_label
                                   : r + 1 == rows ? zero_label
                                                   : "",
                                   label_width, r == 0 ? "┤" : "│");
    std::size_t floor = (rows - 1 - r) * 8;  // eighths below this row
    for (std::uint64_t v : live) {
      std::size_t h = eighths_of(v, top, rows);
      line += eighths[h <= floor ? 0 : std::min<std::size_t>(h - floor, 8)];
    }
    lines.push_back(line);
  }
  std::string axis = fmt::format("  {:>{}} └", "", label_width);
  for (std::size_t c = 0; c < width; ++c) {
    axis += c == peak_column ? "▲" : "─";
  }
  lines.push_back(axis);
  std::string start = "0 s";
  std::string finish = human_duration(end);
  std::size_t gap = width + 1 > start.size() + finish.size() ? width + 1 - start.size() - finish.size() : 1;
  lines.push_back(fmt::format("  {:>{}} {}{:{}}{}", "", label_width, start, "", gap, finish));
  lines.push_back(fmt::format("  {:>{}}  {}", "resident", label_width,
                              sparkline(resident, *std::max_element(resident.begin(), resident.end()))));
  return lines;
}

std::string timeline_sparkline(const CaptureTimeline& t, std::size_t width) {
  if (t.samples.empty()) {
    return {};
  }
  std::vector<std::uint64_t> live = columns(t, width, &TimelineSample::live_bytes);
  show_peak(t, live);
  return fmt::format("Live bytes over {}: `{}` ({})", human_duration(end_time(t)),
                     sparkline(live, *std::max_element(live.begin(), live.end())), peak_text(t));
}

}  // namespace measure
