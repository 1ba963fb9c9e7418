#include "tools/live_status.h"

#include <chrono>

#include <fmt/format.h>

#include "format/capture.h"
#include "report/formats.h"
#include "support/error.h"
#include "tools/terminal.h"

namespace measure::tools {
namespace {

namespace fs = std::filesystem;

// A run shorter than this shows no figures at all: a line that flashes is noise.
constexpr auto quiet_start = std::chrono::seconds(2);
constexpr auto poll = std::chrono::milliseconds(250);

}  // namespace

LiveStatus::LiveStatus(bool enabled, std::string capture_template, fs::file_time_type since)
    : m_template(std::move(capture_template)), m_since(since) {
  if (!enabled || (m_terminal = open_free_terminal()) < 0) {
    return;
  }
  m_thread = std::thread([this] { watch(); });
}

LiveStatus::~LiveStatus() {
  if (!m_thread.joinable()) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  m_thread.join();
  close_terminal(m_terminal);
}

// The capture a process of this run wrote most recently: the template's own name, or the
// name with a pid (and a sequence suffix) in place of %p. Checkpoints replace the file
// atomically, so whatever is found is whole.
std::string LiveStatus::newest_capture() const {
  std::size_t at = m_template.find("%p");
  fs::path prefix = m_template.substr(0, at == std::string::npos ? m_template.size() : at);
  std::string suffix = at == std::string::npos ? std::string() : m_template.substr(at + 2);
  std::string stem = prefix.filename().string();
  std::error_code ec;
  std::string newest;
  fs::file_time_type newest_time = m_since;
  for (const auto& entry : fs::directory_iterator(prefix.parent_path(), ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(stem, 0) != 0 || name.find(".tmp.") != std::string::npos ||
        name.find(suffix, stem.size()) == std::string::npos) {
      continue;
    }
    fs::file_time_type t = fs::last_write_time(entry.path(), ec);
    if (!ec && t >= newest_time) {
      newest_time = t;
      newest = entry.path().string();
    }
  }
  return newest;
}

void LiveStatus::watch() {
  auto start = std::chrono::steady_clock::now();
  fs::file_time_type shown{};
  bool drawn = false;
  std::unique_lock<std::mutex> lock(m_mutex);
  while (!m_wake.wait_for(lock, poll, [this] { return m_stop; })) {
    auto elapsed = std::chrono::steady_clock::now() - start;
    if (elapsed < quiet_start) {
      continue;
    }
    std::string path = newest_capture();
    std::error_code ec;
    fs::file_time_type written = path.empty() ? fs::file_time_type{} : fs::last_write_time(path, ec);
    if (path.empty() || ec || written == shown) {
      continue;
    }
    Metrics t;
    try {
      t = read_capture(path).totals;
    } catch (const Error&) {
      continue;  // replaced while it was read: the next checkpoint will do
    }
    shown = written;
    std::string line =
        fmt::format("measure run: {} s, {} allocations ({}), {} live, peak {}",
                    std::chrono::duration_cast<std::chrono::seconds>(elapsed).count(), grouped(t.alloc_count),
                    human_bytes(t.alloc_bytes), human_bytes(t.live_bytes), human_bytes(t.peak_bytes));
    write_all(m_terminal, fmt::format("{}{}", erase_line, fit_line(line, terminal_columns(m_terminal))));
    drawn = true;
  }
  if (drawn) {
    write_all(m_terminal, erase_line);
  }
}

}  // namespace measure::tools
