// Live figures while `measure run` waits for its program: the runtime's latest checkpoint
// (written every MEASURE_CHECKPOINT_INTERVAL seconds, 2 by default) as one line on the
// terminal, redrawn in place:
//
//   measure run: 12 s, 1,234,567 allocations (512.0 MiB), 3.1 MiB live, peak 20.0 MiB
//
// The program's own output must never be garbled, and it goes wherever measure's standard
// output and standard error go. So the line is drawn only on a terminal the program cannot
// write to: the controlling terminal, when both are redirected away from it (`measure run --
// ./bench > out.txt 2> err.txt`) and measure is a foreground job. Otherwise nothing is shown
// while the program runs, and the summary after it is all (docs/integrations.md).
#pragma once

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

namespace measure::tools {

class LiveStatus {
 public:
  /// Watches for captures named like `capture_template` (a path where %p stands for a pid)
  /// written since `since`. Does nothing at all when `enabled` is false or no free terminal
  /// exists.
  LiveStatus(bool enabled, std::string capture_template, std::filesystem::file_time_type since);
  /// Stops watching and erases the line.
  ~LiveStatus();
  LiveStatus(const LiveStatus&) = delete;
  LiveStatus& operator=(const LiveStatus&) = delete;

 private:
  void watch();
  std::string newest_capture() const;

  int m_terminal = -1;
  std::string m_template;
  std::filesystem::file_time_type m_since;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;
  std::thread m_thread;
};

}  // namespace measure::tools
