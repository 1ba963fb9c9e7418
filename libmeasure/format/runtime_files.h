// The runtime's capture files: where they go (%p, %n), and writing one atomically without
// ever disturbing the program.
#pragma once

#include <cstddef>

namespace measure::detail {

class Runtime;

/// Expands %p (pid), %n (program name) and %% in `templ` into `out`. False if it does not fit.
bool expand_output_path(const char* templ, char* out, std::size_t size) noexcept;
/// The same with %p standing for `pid`.
bool expand_output_path(const char* templ, char* out, std::size_t size, int pid) noexcept;

/// Encodes the current state and replaces the capture file atomically (a temporary file of an
/// unpredictable name, created new with mode 0600 in the same directory, then renamed):
/// `path`, or the configured output when null. When every descriptor of the process is in
/// use, a helper process with room in a copy of the descriptor table writes it, so the
/// program's own descriptors are never touched. Returns 0, or an errno value after printing
/// one warning (and noting the reason for `measure run`, config.h's status directory); the
/// program is never disturbed. A checkpoint of the configured output is skipped while a
/// thread calls exec (runtime/children.h).
int write_capture_file(Runtime& rt, bool final, const char* path = nullptr) noexcept;

}  // namespace measure::detail
