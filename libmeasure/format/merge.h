// Adding captures together: the processes of one run (the files of --follow-forks and
// --follow-exec), or repeated runs of a test, read as one capture. Reports group the merged
// call sites by their symbols, so the same call site of two processes is one row.
#pragma once

#include <span>
#include <string>

#include "format/capture.h"

namespace measure {

/// One capture whose metrics are the sums of the parts'. The first part names the program
/// (its argv, pid and exit status); the others are listed in a warning. Stacks keep their own
/// module generations, shifted so that each part's addresses still find its own modules;
/// stored symbols come along. Totals, per-site metrics and the peak are sums: the merged
/// peak is the sum of the parts' peaks, an upper bound of any moment's live bytes when the
/// processes ran at the same time. The timeline is kept only when there is one part. The
/// merged capture is partial (not written at exit) when any part is. `names` names the parts
/// in messages (same size as `parts`). Throws UsageError when there is no part or the parts
/// were recorded in different modes (their metrics mean different things).
Capture merge_captures(std::span<const Capture> parts, std::span<const std::string> names);

}  // namespace measure
