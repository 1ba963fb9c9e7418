// Writing the runtime's state as a capture file (format/capture_format.h). Used at exit and
// for checkpoints; it allocates only mapped pages and toolkit memory, never the C heap.
#pragma once

#include <cstddef>

namespace measure::detail {

class Runtime;

/// Expands %p (pid), %n (program name) and %% in `templ` into `out`. False if it does not fit.
bool expand_output_path(const char* templ, char* out, std::size_t size) noexcept;

/// Encodes the runtime's current state and replaces the output file atomically (a temporary
/// file in the same directory, then rename). On failure prints one warning and returns false;
/// the program is never disturbed. `final` marks the capture written at exit.
bool write_capture_file(Runtime& rt, bool final) noexcept;

}  // namespace measure::detail
