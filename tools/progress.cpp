#include "tools/progress.h"

#include <unistd.h>

#include <fmt/format.h>

#include "format/capture.h"
#include "report/formats.h"
#include "tools/terminal.h"

namespace measure::tools {

std::string fit_line(std::string_view text, unsigned columns) {
  // Count code points, not bytes: the text may hold UTF-8 ("…", file names).
  std::string out;
  unsigned shown = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool starts_character = (static_cast<unsigned char>(text[i]) & 0xc0) != 0x80;
    if (starts_character && ++shown >= columns) {
      break;
    }
    out.push_back(text[i]);
  }
  return out;
}

Progress::Progress(std::string_view command) : m_enabled(stderr_is_terminal()), m_command(command) {}

Progress::~Progress() {
  clear();
}

void Progress::stage(std::string text) {
  m_stage = std::move(text);
  draw({});
}

void Progress::fraction(std::uint64_t done, std::uint64_t total) {
  auto now = std::chrono::steady_clock::now();
  if (!m_enabled || total == 0 || now - m_last_draw < std::chrono::milliseconds(100)) {
    return;
  }
  std::string suffix = fmt::format(" {}%", done >= total ? 100 : done * 100 / total);
  if (suffix != m_suffix) {
    draw(suffix);
  }
}

void Progress::clear() {
  if (m_shown) {
    write_all(STDERR_FILENO, erase_line);
    m_shown = false;
  }
}

void Progress::draw(std::string_view suffix) {
  if (!m_enabled) {
    return;
  }
  m_last_draw = std::chrono::steady_clock::now();
  m_suffix = suffix;
  std::string line = fit_line(fmt::format("{}: {}…{}", m_command, m_stage, suffix), terminal_columns(STDERR_FILENO));
  write_all(STDERR_FILENO, fmt::format("{}{}", erase_line, line));
  m_shown = true;
}

std::string analysis_stage(std::initializer_list<const Capture*> captures) {
  std::size_t modules = 0;
  std::size_t sites = 0;
  for (const Capture* c : captures) {
    // A capture that carries its symbols (measure run, symbolize, import) needs no module read.
    modules += c->symbols.empty() ? c->modules.size() : 0;
    sites += c->sites.size();
  }
  std::string what = fmt::format("{} call site{}", grouped(sites), sites == 1 ? "" : "s");
  return modules == 0 ? fmt::format("grouping {}", what)
                      : fmt::format("symbolizing and grouping {} ({} module{})", what, grouped(modules),
                                    modules == 1 ? "" : "s");
}

}  // namespace measure::tools
