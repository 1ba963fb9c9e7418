#include "tools/symbol_prefetch.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "tools/process.h"

namespace measure::tools {
namespace {

// The loader maps a program's libraries within a few milliseconds of exec: a look after 10
// ms finds them, a second after 100 ms the ones a slow start (many libraries, a loader audit
// module) mapped later.
constexpr int looks_ms[] = {10, 90};

std::string canonical(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : p.string();
}

}  // namespace

SymbolPrefetch::SymbolPrefetch(SymbolFiles& files, const std::vector<std::string>& skip) : m_files(files) {
  for (const std::string& path : skip) {
    m_skip.push_back(canonical(path));
  }
}

SymbolPrefetch::~SymbolPrefetch() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void SymbolPrefetch::start(int pid) noexcept {
  if (m_thread.joinable()) {
    return;
  }
  try {
    m_thread = std::thread([this, pid] { read_files(pid); });
  } catch (...) {
    // No thread: the files are read after the run, as without prefetching.
  }
}

bool SymbolPrefetch::wait(int ms) {
  std::unique_lock<std::mutex> lock(m_mutex);
  return !m_wake.wait_for(lock, std::chrono::milliseconds(ms), [this] { return m_stop; });
}

void SymbolPrefetch::read_files(int pid) {
  std::vector<std::string> seen;
  for (int ms : looks_ms) {
    if (!wait(ms)) {
      return;
    }
    for (const std::string& path : executable_files(pid)) {
      if (std::find(seen.begin(), seen.end(), path) != seen.end() ||
          std::find(m_skip.begin(), m_skip.end(), path) != m_skip.end()) {
        continue;
      }
      seen.push_back(path);
      {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (m_stop) {
          return;
        }
      }
      try {
        m_files.open(path);
      } catch (...) {
        return;  // out of memory: what is left is read after the run
      }
    }
  }
}

}  // namespace measure::tools
