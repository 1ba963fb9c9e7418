// Making a capture self-contained: the frames of every recorded return address, looked up in
// the module files while they are still the ones that ran, stored in the capture itself
// (CaptureSymbols::modules). Reports and diffs of the capture then name functions, files and
// lines on any machine, after the program was rebuilt in place or deleted.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "format/capture.h"
#include "symbols/symbolizer.h"

namespace measure {

/// What store_symbols did to one capture.
struct StoreSymbolsResult {
  std::size_t offsets_added = 0;                // module offsets whose frames were newly stored
  std::size_t modules_added = 0;                // modules that gained stored frames (new ones or more of them)
  std::size_t offsets_left = 0;                 // recorded offsets left unnamed: their module could not be read
  std::vector<std::string> unreadable_modules;  // paths of those modules: missing, or rebuilt since the run
  SymbolizerStats stats;                        // of the symbolizer that read the module files
};

/// Stores in `capture.symbols` the frames of every recorded return address that lies in a
/// module whose file on this machine is the one that ran (same build-id; a file without
/// build-id is taken as it is). An address the capture already carries frames for is left
/// as it is, so storing twice changes nothing. Addresses in modules that cannot be read are
/// left out and counted; a later call on a machine that has the files adds them. The
/// strings already in the table keep their indexes. Module files are read through `files`
/// when given (shared with other calls, so each is read once), else through a set of its own.
StoreSymbolsResult store_symbols(Capture& capture, SymbolFiles* files = nullptr);

}  // namespace measure
