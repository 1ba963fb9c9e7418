// Encoding the runtime's state as a capture (format/capture_format.h), for the capture files
// (format/runtime_files.h) and the in-process API's snapshots. It allocates only mapped
// pages and toolkit memory, never the C heap.
#pragma once

#include <cstddef>
#include <cstdint>

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
  // The process's resident memory, read before encoding (a capture streamed to its file may
  // hold the last descriptor the process can have by the end).
  std::uint64_t resident_bytes = 0;

  /// For the calling process, as it is now.
  static CaptureRequest now(bool final, bool frames = true) noexcept;
};

/// Encodes the runtime's current state as a capture file into `out` (check out.failed()).
/// `final` marks the capture written at exit. Without `frames`, stacks carry no frames and
/// the "elided" flag (an in-process snapshot reads them from the stack table when needed).
/// pre: the module map was scanned just before.
void encode_capture_state(Runtime& rt, format::ByteBuffer& out, bool final, bool frames = true) noexcept;
void encode_capture_state(Runtime& rt, format::ByteBuffer& out, const CaptureRequest& request) noexcept;
/// The summary section (format/sections.h): the threads' statistics summed, the process's
/// largest allocations (stack ids of `stack_count` or more, recorded after the stacks section
/// was written, become the unknown stack) and the split by thread.
void encode_summary(format::ByteBuffer& out, Runtime& rt, std::uint32_t stack_count) noexcept;

}  // namespace measure::detail
