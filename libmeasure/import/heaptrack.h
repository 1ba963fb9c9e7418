// Importing heaptrack recordings: the data files `heaptrack` writes (heaptrack 1.1 and later,
// file format versions 1 to 3; zstd, gzip or uncompressed) become measure captures, so
// `measure report` and `measure diff` work on recordings people already have. The file is
// streamed, never held in memory. docs/integrations.md says how heaptrack's numbers map to
// measure's metrics.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "format/capture.h"

namespace measure {

/// Told now and then how many bytes of the file were read, out of how many.
using ImportProgress = std::function<void(std::uint64_t done, std::uint64_t total)>;

/// Reads the heaptrack data file at `path` into a capture: one site per heaptrack call stack
/// with its allocations, frees, bytes, leaked blocks, peak contribution and temporary
/// allocations, and heaptrack's symbols for every address (CaptureSymbols), so reports need
/// neither the recorded binaries nor their debug information. A recording that was cut off
/// (truncated compressed data, or no end-of-file summary) is imported up to its last complete
/// line and marked as a checkpoint with a warning. Throws IoError when the file cannot be
/// read and FormatError when it is not a heaptrack data file, is a raw (uninterpreted) trace,
/// has a newer file format, or is corrupt.
Capture import_heaptrack(const std::string& path, const ImportProgress& progress = {});

}  // namespace measure
