// Writing the runtime's state as a capture file (format/capture_format.h). Used at exit and
// for checkpoints; it allocates only mapped pages and toolkit memory, never the C heap.
#pragma once

#include <cstddef>

namespace measure::detail {

class Runtime;
}  // namespace measure::detail
namespace measure::format {
class ByteBuffer;
}
namespace measure::detail {

/// Expands %p (pid), %n (program name) and %% in `templ` into `out`. False if it does not fit.
bool expand_output_path(const char* templ, char* out, std::size_t size) noexcept;

/// Encodes the runtime's current state as a capture file into `out` (check out.failed()).
/// `final` marks the capture written at exit. Without `frames`, stacks carry no frames and
/// the "elided" flag (an in-process snapshot reads them from the stack table when needed).
/// pre: the module map was scanned just before.
void encode_capture_state(Runtime& rt, format::ByteBuffer& out, bool final, bool frames = true) noexcept;


/// Encodes the current state and replaces the capture file atomically (a temporary file in
/// the same directory, then rename): `path`, or the configured output when null. Returns 0,
/// or an errno value after printing one warning; the program is never disturbed. A checkpoint
/// of the configured output is skipped while a thread calls exec (capture/children.h).
int write_capture_file(Runtime& rt, bool final, const char* path = nullptr) noexcept;

}  // namespace measure::detail
