// A synthetic capture with fixed symbols, so the golden outputs of every report and diff
// format are byte-for-byte deterministic (no compiler, no paths of the build machine).
#pragma once

#include <string>

#include "diff/diff.h"
#include "format/capture.h"
#include "report/report.h"

namespace measure::test {

/// A server-like program: a vector growing in a parser, a renderer's temporaries (two return
/// addresses on one line), a cache that leaks, a library without symbols, a truncated stack
/// and the empty stack.
Capture synthetic_capture();
/// The same program after a change: the renderer allocates more, the cache is gone, a new
/// call site appears, and the parser's call moved two lines down.
Capture synthetic_capture_after();
/// The symbols of both captures' addresses.
FrameResolver synthetic_symbols();

/// Compares `actual` with the golden file at `path` under tests/ (each folder keeps its own:
/// "report/golden/report.txt", "diff/golden/diff.txt"); with MEASURE_UPDATE_GOLDEN=1 in the
/// environment, rewrites the file instead (review the change with git diff).
void check_golden(const std::string& path, const std::string& actual);

}  // namespace measure::test
