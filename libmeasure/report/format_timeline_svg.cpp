// `--format timeline-svg`: live bytes and resident memory over the run as a self-contained
// SVG chart (no script, no network), with the peak marked and every sample's values in a
// tooltip. It takes the window's width (the drawing scales with it).
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "report/formats.h"
#include "support/error.h"

namespace measure {
namespace {

constexpr double image_width = 960;
constexpr double image_height = 420;
constexpr double left = 90;    // live bytes' axis labels
constexpr double right = 90;   // resident memory's axis labels, when it has its own
constexpr double top = 70;     // title, subtitle, legend
constexpr double bottom = 56;  // x labels, caption
constexpr double plot_width = image_width - left - right;
constexpr double plot_height = image_height - top - bottom;

// The smallest "round" step (1, 2 or 5 times a power of ten, at most half of `unit_base`, of
// a unit that is a power of `unit_base`: 500 B, 1 KiB, 2 KiB ...) that divides `range` into
// at most `most` parts, so tick labels read exactly.
std::uint64_t tick_step(std::uint64_t range, std::uint64_t unit_base, std::uint64_t most) {
  static constexpr std::array<std::uint64_t, 3> mantissas = {1, 2, 5};
  for (std::uint64_t unit = 1; unit <= UINT64_MAX / unit_base / most; unit *= unit_base) {
    for (std::uint64_t scale = 1; scale < unit_base; scale *= 10) {
      for (std::uint64_t m : mantissas) {
        std::uint64_t step = m * scale * unit;
        if (m * scale * 2 <= unit_base && step * most >= range) {
          return step;
        }
      }
    }
  }
  return std::max<std::uint64_t>(range, 1);
}

// A y axis: its round maximum and step.
struct Axis {
  std::uint64_t max;
  std::uint64_t step;
};

Axis axis_for(std::uint64_t high) {
  high = std::max<std::uint64_t>(high, 1);
  std::uint64_t step = tick_step(high, 1024, 6);
  return Axis{(high + step - 1) / step * step, step};
}

struct Scale {
  double max_time;
  double max_value;
  double x(std::uint64_t time_ns) const noexcept { return left + static_cast<double>(time_ns) / max_time * plot_width; }
  double y(std::uint64_t bytes) const noexcept {
    return top + plot_height - static_cast<double>(bytes) / max_value * plot_height;
  }
};

// A point of a series: from `time_ns` on, the series is at `bytes`.
struct Step {
  std::uint64_t time_ns;
  std::uint64_t bytes;
};

// A step path: a value holds until the next step.
std::string step_path(const std::vector<Step>& steps, const Scale& s, std::uint64_t end) {
  std::string d = fmt::format("M{:.1f},{:.1f}", s.x(steps.front().time_ns), s.y(steps.front().bytes));
  for (std::size_t i = 1; i < steps.size(); ++i) {
    d += fmt::format(" H{:.1f} V{:.1f}", s.x(steps[i].time_ns), s.y(steps[i].bytes));
  }
  d += fmt::format(" H{:.1f}", s.x(end));
  return d;
}

// The live bytes as drawn. Recording starts with none live, so the line starts at 0 at time
// 0, however late the first sample came (the background thread's first tick, milliseconds in).
// The samples hold the highest value sampled in each interval, which can miss the exact peak
// between two ticks: the peak is drawn as a step of its own, in the middle of the interval in
// which it was reached, so that the line goes through its mark.
std::vector<Step> live_steps(const CaptureTimeline& t) {
  std::vector<Step> steps;
  if (t.samples.front().time_ns != 0) {
    steps.push_back({0, 0});
  }
  std::uint64_t peak_time = t.peak_after_ns + (t.peak_before_ns - t.peak_after_ns) / 2;
  bool peak_drawn = t.peak_bytes == 0;
  for (const TimelineSample& sample : t.samples) {
    if (!peak_drawn && sample.time_ns > peak_time) {
      steps.push_back({peak_time, t.peak_bytes});
      peak_drawn = true;
    }
    steps.push_back({sample.time_ns, sample.live_bytes});
    peak_drawn = peak_drawn || sample.live_bytes >= t.peak_bytes;
  }
  if (!peak_drawn) {
    steps.push_back({peak_time, t.peak_bytes});
  }
  return steps;
}

std::vector<Step> resident_steps(const CaptureTimeline& t) {
  std::vector<Step> steps;
  steps.reserve(t.samples.size());
  for (const TimelineSample& sample : t.samples) {
    steps.push_back({sample.time_ns, sample.resident_bytes});
  }
  return steps;
}

// The command line shortened in its middle to `most` characters (UTF-8 sequences kept whole),
// so that the title fits the chart: the program's name and its last arguments stay readable.
std::string fit(const std::string& text, std::size_t most) {
  if (text.size() <= most) {
    return text;
  }
  std::size_t head = most / 2 - 1;
  std::size_t tail = text.size() - (most - head - 1);
  while (head > 0 && (static_cast<unsigned char>(text[head]) & 0xc0) == 0x80) {
    --head;
  }
  while (tail < text.size() && (static_cast<unsigned char>(text[tail]) & 0xc0) == 0x80) {
    ++tail;
  }
  return text.substr(0, head) + "…" + text.substr(tail);
}

}  // namespace

std::string render_timeline_svg(const Report& report) {
  const Capture& c = *report.capture;
  const CaptureTimeline& t = c.timeline;
  if (t.empty()) {
    throw UsageError(
        "timeline-svg: this capture has no timeline (it was written with MEASURE_TIMELINE=0, in process, or "
        "imported)");
  }
  std::uint64_t end = std::max<std::uint64_t>({t.samples.back().time_ns, t.peak_before_ns, 1});
  std::uint64_t live_high = t.peak_bytes;
  std::uint64_t resident_high = 0;
  for (const TimelineSample& s : t.samples) {
    live_high = std::max(live_high, s.live_bytes);
    resident_high = std::max(resident_high, s.resident_bytes);
  }
  // Resident memory gets its own axis when one shared axis would flatten the live bytes (a
  // program whose blocks are a small part of its resident memory).
  bool shared_axis = live_high >= resident_high / 4;
  Axis live_axis = axis_for(shared_axis ? std::max(live_high, resident_high) : live_high);
  Axis resident_axis = shared_axis ? live_axis : axis_for(resident_high);
  std::uint64_t x_step = tick_step(end, 1000, 10);
  Scale s{static_cast<double>(end), static_cast<double>(live_axis.max)};
  Scale rs{static_cast<double>(end), static_cast<double>(resident_axis.max)};

  std::string command = command_line(c.program);
  // Verdana at 16 px takes about 10 px a character: the title fits between the margins.
  constexpr std::size_t title_room = static_cast<std::size_t>((image_width - left - 20) / 10) - 31;
  std::string out = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"Verdana, sans-serif\" font-size=\"12\">\n"
      "<title>measure timeline: {2}</title>\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
      "<text x=\"{3}\" y=\"22\" font-size=\"16\">Live bytes and resident memory: {7}</text>\n"
      "<text x=\"{3}\" y=\"42\" fill=\"#555555\">{4}; {6} points, each the highest values sampled in {5}</text>\n",
      image_width, image_height, detail::xml_text(command), left,
      detail::xml_text(fmt::format("peak {} live between {} and {}", human_bytes(t.peak_bytes),
                                   human_duration(t.peak_after_ns), human_duration(t.peak_before_ns))),
      human_duration(t.interval_ns), grouped(t.samples.size()), detail::xml_text(fit(command, title_room)));

  // Grid and axes.
  out += "<g stroke=\"#e4e4e4\" fill=\"#444444\">\n";
  for (std::uint64_t v = 0; v <= live_axis.max; v += live_axis.step) {
    out += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\"/>"
        "<text x=\"{3:.1f}\" y=\"{4:.1f}\" text-anchor=\"end\" stroke=\"none\" fill=\"{6}\">{5}</text>\n",
        left, s.y(v), left + plot_width, left - 8, s.y(v) + 4, human_bytes(v), shared_axis ? "#444444" : "#1f77b4");
  }
  for (std::uint64_t v = 0; !shared_axis && v <= resident_axis.max; v += resident_axis.step) {
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" stroke=\"none\" fill=\"#d0640a\">{}</text>\n",
                       left + plot_width + 8, rs.y(v) + 4, human_bytes(v));
  }
  for (std::uint64_t x = 0; x <= end; x += x_step) {
    out += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/>"
        "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\" stroke=\"none\">{4}</text>\n",
        s.x(x), top, top + plot_height, top + plot_height + 18, human_duration(x));
  }
  out += "</g>\n";

  // The peak: the interval in which it was reached, and its exact value.
  double peak_left = s.x(t.peak_after_ns);
  double peak_right = std::max(s.x(t.peak_before_ns), peak_left + 1);
  out += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#d62728\" fill-opacity=\"0.15\">"
      "<title>the peak was reached in this interval</title></rect>\n",
      peak_left, top, peak_right - peak_left, plot_height);

  std::vector<Step> live_line = live_steps(t);
  std::string live = step_path(live_line, s, end);
  out += fmt::format("<path d=\"{} V{:.1f} H{:.1f} Z\" fill=\"#1f77b4\" fill-opacity=\"0.25\" stroke=\"none\"/>\n",
                     live, s.y(0), s.x(live_line.front().time_ns));
  out += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\"/>\n", live);
  out +=
      fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"/>\n",
                  step_path(resident_steps(t), rs, end));

  double peak_x = (peak_left + peak_right) / 2;
  double peak_y = s.y(t.peak_bytes);
  out += fmt::format(
      "<circle cx=\"{0:.1f}\" cy=\"{1:.1f}\" r=\"4\" fill=\"#d62728\"/>"
      "<text x=\"{2:.1f}\" y=\"{3:.1f}\" fill=\"#d62728\" text-anchor=\"{4}\">peak {5}</text>\n",
      peak_x, peak_y, peak_x + (peak_x > left + plot_width * 0.8 ? -8 : 8), std::max(peak_y - 8, top + 12),
      peak_x > left + plot_width * 0.8 ? "end" : "start", human_bytes(t.peak_bytes));

  // Tooltips: one transparent band per sample, up to the next.
  out += "<g fill=\"#000000\" fill-opacity=\"0\">\n";
  for (std::size_t i = 0; i < t.samples.size(); ++i) {
    const TimelineSample& sample = t.samples[i];
    std::uint64_t next = i + 1 < t.samples.size() ? t.samples[i + 1].time_ns : end;
    out += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"><title>{}: live {} ({} B), resident "
        "{}</title></rect>\n",
        s.x(sample.time_ns), top, std::max(s.x(next) - s.x(sample.time_ns), 0.5), plot_height,
        human_duration(sample.time_ns), human_bytes(sample.live_bytes), grouped(sample.live_bytes),
        human_bytes(sample.resident_bytes));
  }
  out += "</g>\n";

  // Legend and caption.
  double legend_y = 58;
  out += fmt::format(
      "<g font-size=\"12\">"
      "<rect x=\"{0:.1f}\" y=\"{1:.1f}\" width=\"14\" height=\"8\" fill=\"#1f77b4\" fill-opacity=\"0.5\"/>"
      "<text x=\"{2:.1f}\" y=\"{3:.1f}\">live bytes (the program's blocks{9})</text>"
      "<line x1=\"{4:.1f}\" y1=\"{5:.1f}\" x2=\"{6:.1f}\" y2=\"{5:.1f}\" stroke=\"#ff7f0e\" stroke-width=\"1.5\" "
      "stroke-dasharray=\"5,3\"/>"
      "<text x=\"{7:.1f}\" y=\"{3:.1f}\">resident memory (RSS, the toolkit's {10} included{8})</text></g>\n",
      left, legend_y - 8, left + 20, legend_y, left + 330, legend_y - 4, left + 350, left + 358,
      shared_axis ? "" : "; right axis", shared_axis ? "" : "; left axis", human_bytes(c.toolkit_bytes));
  out += fmt::format(
      "<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#555555\">time since the start of recording; hover for each sample's "
      "values</text>\n",
      left, image_height - 12);
  out += "</svg>\n";
  return out;
}

}  // namespace measure
