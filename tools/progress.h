// A one-line status on standard error while a command works through a large input ("reading
// app.msr", "symbolizing 12 modules, grouping 100,000 call sites", "42%"), redrawn in place.
// It draws only when standard error is a terminal, so files, pipes and CI logs never see it,
// and it erases itself before the command writes its result.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace measure {
struct Capture;
}

namespace measure::tools {

class Progress {
 public:
  /// `command` starts the line ("measure report").
  explicit Progress(std::string_view command);
  /// Erases the line if it is still shown.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Shows what the command is doing now.
  void stage(std::string text);
  /// Adds how far the current stage is ("37%"); redrawn at most ten times a second.
  void fraction(std::uint64_t done, std::uint64_t total);
  /// Erases the line now: call before writing to a terminal.
  void clear();

 private:
  void draw(std::string_view suffix);

  bool m_enabled;
  bool m_shown = false;
  std::string m_command;
  std::string m_stage;
  std::string m_suffix;  // what fraction() drew last
  std::chrono::steady_clock::time_point m_last_draw{};
};

/// The stage name for symbolizing and grouping `captures`: "symbolizing and grouping 100,000
/// call sites (12 modules)".
std::string analysis_stage(std::initializer_list<const Capture*> captures);

}  // namespace measure::tools
