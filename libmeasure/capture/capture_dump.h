// Writing the runtime's state as a capture file (format/capture_format.h). Used at exit and
// for checkpoints; it allocates only mapped pages and toolkit memory, never the C heap.
// capture_dump.cpp encodes, capture_file.cpp writes the file.
#pragma once

#include <cstddef>

namespace measure::detail {

class Runtime;
}  // namespace measure::detail
namespace measure::format {
class ByteBuffer;
}
namespace measure::detail {

/// What a capture is encoded as.
struct CaptureRequest {
  bool final = false;  // written at exit, not a checkpoint or snapshot
  bool frames = true;  // stacks carry their frames (an in-process snapshot leaves them out)
  int pid = 0;         // the process the capture describes
  int parent_pid = 0;

  /// For the calling process, as it is now.
  static CaptureRequest now(bool final, bool frames = true) noexcept;
};

/// Expands %p (pid), %n (program name) and %% in `templ` into `out`. False if it does not fit.
bool expand_output_path(const char* templ, char* out, std::size_t size) noexcept;
/// The same with %p standing for `pid`.
bool expand_output_path(const char* templ, char* out, std::size_t size, int pid) noexcept;

/// Encodes the runtime's current state as a capture file into `out` (check out.failed()).
/// `final` marks the capture written at exit. Without `frames`, stacks carry no frames and
/// the "elided" flag (an in-process snapshot reads them from the stack table when needed).
/// pre: the module map was scanned just before.
void encode_capture_state(Runtime& rt, format::ByteBuffer& out, bool final, bool frames = true) noexcept;
void encode_capture_state(Runtime& rt, format::ByteBuffer& out, const CaptureRequest& request) noexcept;

/// Encodes the current state and replaces the capture file atomically (a temporary file of an
/// unpredictable name, created new with mode 0600 in the same directory, then renamed):
/// `path`, or the configured output when null. When every descriptor of the process is in
/// use, a helper process with room in a copy of the descriptor table writes it, so the
/// program's own descriptors are never touched. Returns 0, or an errno value after printing
/// one warning (and noting the reason for `measure run`, config.h's status directory); the
/// program is never disturbed. A checkpoint of the configured output is skipped while a
/// thread calls exec (capture/children.h).
int write_capture_file(Runtime& rt, bool final, const char* path = nullptr) noexcept;

}  // namespace measure::detail
