// What `measure live` shows of a running program, built from one capture the program wrote
// (tools/dump_request.h) and the one before it, and drawn as text: totals, the allocation
// rate, live bytes over the run, the top call sites by live bytes or by allocation rate, and
// the threads. Pure functions of their inputs; the command (live_command.cpp) does the I/O.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "format/capture.h"
#include "report/report.h"

namespace measure::tools {

enum class LiveSort { live_bytes, rate };

/// What one refresh needs of the one before: each row's bytes allocated, and the run's.
struct LiveHistory {
  std::uint64_t time_ns = 0;  // the program's running time at the previous capture (0: none yet)
  std::uint64_t alloc_bytes = 0;
  std::uint64_t alloc_count = 0;
  std::unordered_map<std::string, std::uint64_t> row_alloc_bytes;  // row identity -> bytes allocated
};

struct LiveRow {
  std::string location;
  std::uint64_t live_bytes = 0;
  std::uint64_t live_count = 0;
  std::uint64_t alloc_bytes = 0;
  double bytes_per_second = 0;  // allocated since the previous refresh (since the start on the first)
};

struct LiveFrame {
  std::string program;  // the command line
  std::uint64_t pid = 0;
  CaptureMode mode = CaptureMode::exact;
  std::uint64_t time_ns = 0;  // the program's running time at this capture
  Metrics totals;
  double bytes_per_second = 0;
  double allocations_per_second = 0;
  const CaptureTimeline* timeline = nullptr;  // borrowed from the capture
  std::vector<LiveRow> rows;                  // all of them, in the frame's order
  std::vector<ThreadCounts> threads;          // by bytes allocated; empty when the capture has none
  LiveSort sort = LiveSort::live_bytes;
  GroupBy by = GroupBy::line;
};

/// The frame of `report` (grouped `by`, of `capture`), rates taken against `history`, which
/// is then updated for the next refresh.
LiveFrame make_live_frame(const Capture& capture, const Report& report, LiveSort sort, LiveHistory& history);

struct LiveLayout {
  unsigned columns = 80;
  unsigned lines = 24;   // the rows are cut to fit
  bool chart = true;     // live bytes over the run, when there are lines enough
  bool keys = true;      // the last line lists the keys the view takes
  std::size_t rows = 0;  // at most this many call sites (0: as many as fit)
};

/// `frame` as lines of at most `layout.columns` cells, at most `layout.lines` of them.
std::string render_live(const LiveFrame& frame, const LiveLayout& layout);

}  // namespace measure::tools
