// The format registry (names, dispatch) and the folded-stacks format, which is short enough
// to live beside it.
#include "report/formats.h"

#include <algorithm>
#include <filesystem>
#include <numeric>

#include <fmt/format.h>

#include "report/summary.h"
#include "support/error.h"

namespace measure {
namespace {

constexpr std::string_view format_names[] = {"text", "json",  "csv",          "markdown", "folded",
                                             "svg",  "pprof", "timeline-svg", "html",     "summary"};

// Folded stacks separate frames with ';' and end with " value": neither may appear inside a
// frame, and a line break would end the line early.
std::string folded_label(const Frame& frame) {
  std::string label = frame_label(frame);
  std::replace_if(
      label.begin(), label.end(), [](char c) { return c == ';' || c == '\n' || c == '\r'; }, '_');
  return label;
}

}  // namespace

std::optional<ReportFormat> parse_report_format(std::string_view text) noexcept {
  for (std::size_t i = 0; i < std::size(format_names); ++i) {
    if (format_names[i] == text) {
      return static_cast<ReportFormat>(i);
    }
  }
  return std::nullopt;
}

std::vector<std::string> report_format_names() {
  return {std::begin(format_names), std::end(format_names)};
}

bool shows_summary(ReportFormat format) noexcept {
  return format == ReportFormat::summary || format == ReportFormat::json || format == ReportFormat::html;
}

std::string render_report(const Report& report, ReportFormat format) {
  bool draws_stacks = format == ReportFormat::folded || format == ReportFormat::svg || format == ReportFormat::pprof ||
                      format == ReportFormat::html;
  if (draws_stacks && report.options.by == GroupBy::scope) {
    throw UsageError("--by scope has no call stacks to draw; use --scope NAME to see one scope's stacks");
  }
  switch (format) {
    case ReportFormat::text:
      return render_text(report);
    case ReportFormat::json:
      return render_json(report);
    case ReportFormat::csv:
      return render_csv(report);
    case ReportFormat::markdown:
      return render_markdown(report);
    case ReportFormat::folded:
      return render_folded(report);
    case ReportFormat::svg:
      return render_svg(report);
    case ReportFormat::pprof:
      return render_pprof(report);
    case ReportFormat::timeline_svg:
      return render_timeline_svg(report);
    case ReportFormat::html:
      return render_html(report);
    case ReportFormat::summary:
      return render_summary(report);
  }
  return render_text(report);
}

std::string metric_cell(const Metrics& m, Metric metric, MetricSet unknown) {
  if (unknown.contains(metric)) {
    return "—";
  }
  return is_byte_metric(metric) ? human_bytes(m.value(metric)) : grouped(m.value(metric));
}

std::string frame_label(const Frame& frame) {
  if (!frame.function.empty()) {
    return frame.function;
  }
  if (!frame.module.empty()) {
    return fmt::format("{}+{:#x}", std::filesystem::path(frame.module).filename().string(), frame.offset);
  }
  return fmt::format("{:#x}", frame.address);
}

namespace detail {

StackPaths stack_paths(const Report& r, std::string (*label)(const Frame&), bool with_zero) {
  StackPaths p;
  std::vector<std::uint32_t> label_of(r.frames.size() + 1);
  {
    std::vector<std::string> texts(r.frames.size() + 1);
    for (std::size_t f = 0; f < r.frames.size(); ++f) {
      texts[f] = label(r.frames[f]);
    }
    texts.back() = "[unknown stack]";
    std::vector<std::uint32_t> order(texts.size());
    std::iota(order.begin(), order.end(), 0U);
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return texts[a] < texts[b]; });
    for (std::uint32_t i = 0; i < order.size(); ++i) {
      if (i == 0 || texts[order[i]] != p.labels.back()) {
        p.labels.push_back(std::move(texts[order[i]]));
        p.label_frames.push_back(order[i]);
      }
      label_of[order[i]] = static_cast<std::uint32_t>(p.labels.size() - 1);
    }
  }
  for (const Sample& s : r.samples) {
    if (!with_zero && sort_value(s.metrics, r.options.sort) == 0) {
      continue;
    }
    std::vector<std::uint32_t>& path = p.paths.emplace_back();
    path.reserve(s.frames.size());
    for (std::uint32_t f : s.frames) {
      path.push_back(label_of[f]);
    }
    std::reverse(path.begin(), path.end());
    if (path.empty()) {
      path.push_back(label_of.back());
    }
    p.samples.push_back(&s);
  }
  p.order.resize(p.paths.size());
  std::iota(p.order.begin(), p.order.end(), std::size_t{0});
  std::stable_sort(p.order.begin(), p.order.end(),
                   [&](std::size_t a, std::size_t b) { return p.paths[a] < p.paths[b]; });
  return p;
}

int frame_kind(const Frame* frame) noexcept {
  return frame == nullptr || frame->function.empty() ? 2 : is_system_frame(*frame) ? 1 : 0;
}

}  // namespace detail

std::string render_folded(const Report& r) {
  detail::StackPaths p = detail::stack_paths(r, folded_label);
  std::string out;
  for (std::size_t k = 0; k < p.order.size();) {
    // Stacks that print the same (two return addresses on one line) are one line.
    const std::vector<std::uint32_t>& path = p.paths[p.order[k]];
    std::uint64_t value = 0;
    for (; k < p.order.size() && p.paths[p.order[k]] == path; ++k) {
      value += sort_value(p.samples[p.order[k]]->metrics, r.options.sort);
    }
    for (std::size_t i = 0; i < path.size(); ++i) {
      if (i != 0) {
        out.push_back(';');
      }
      out += p.labels[path[i]];
    }
    out += fmt::format(" {}\n", value);
  }
  return out;
}

}  // namespace measure
