// The format registry (names, dispatch) and the folded-stacks format, which is short enough
// to live beside it.
#include "report/formats.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include <fmt/format.h>

namespace measure {
namespace {

constexpr std::string_view format_names[] = {"text", "json", "csv", "markdown", "folded", "svg", "pprof"};

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

std::string render_report(const Report& report, ReportFormat format) {
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
  }
  return render_text(report);
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

std::string render_folded(const Report& r) {
  std::vector<std::string> labels(r.frames.size());
  for (std::size_t i = 0; i < r.frames.size(); ++i) {
    labels[i] = folded_label(r.frames[i]);
  }
  // Stacks that print the same (two return addresses on one line) are one line.
  std::map<std::string, std::uint64_t> lines;
  std::string line;
  for (const Sample& s : r.samples) {
    std::uint64_t value = sort_value(s.metrics, r.options.sort);
    if (value == 0) {
      continue;
    }
    line.clear();
    for (auto f = s.frames.rbegin(); f != s.frames.rend(); ++f) {
      if (!line.empty()) {
        line.push_back(';');
      }
      line += labels[*f];
    }
    if (line.empty()) {
      line = "[unknown stack]";
    }
    lines[line] += value;
  }
  std::string out;
  for (const auto& [stack, value] : lines) {
    out += stack;
    out += fmt::format(" {}\n", value);
  }
  return out;
}

}  // namespace measure
