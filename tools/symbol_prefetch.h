// Reading a running program's module files for symbolization while it runs, so that storing
// the symbols of its captures after it ends finds them already read. What that saves is the
// time spent opening each file's debug information (inflating compressed DWARF is most of
// it: about 60-90 ms for the C library's debug file on Debian), which otherwise follows the
// program's end. The files are the ones the program has mapped shortly after it starts (its
// program file and the libraries it links against), read once each in a thread of the tool.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "symbols/symbol_file.h"

namespace measure::tools {

class SymbolPrefetch {
 public:
  /// Reads into `files`, leaving out the files in `skip` (measure's own libraries, whose
  /// frames no stack shows). pre: `files` outlives this object.
  SymbolPrefetch(SymbolFiles& files, const std::vector<std::string>& skip);
  /// Stops: waits for the file being read, if any, and reads no more.
  ~SymbolPrefetch();
  SymbolPrefetch(const SymbolPrefetch&) = delete;
  SymbolPrefetch& operator=(const SymbolPrefetch&) = delete;

  /// Starts reading the files of process `pid` (once; later calls do nothing). Never throws:
  /// a thread that cannot be started reads nothing, and everything is read after the run.
  void start(int pid) noexcept;

 private:
  void read_files(int pid);
  /// Waits `ms` milliseconds; false when stopped meanwhile.
  bool wait(int ms);

  SymbolFiles& m_files;
  std::vector<std::string> m_skip;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;
  std::thread m_thread;
};

}  // namespace measure::tools
