// The runtime's background thread: it samples the timeline (live bytes and resident memory),
// writes a checkpoint every checkpoint interval, so a program killed by SIGKILL or the OOM
// killer still leaves a capture, and under `measure run` answers `measure dump` (a request
// file in the run's status directory, looked for ten times a second). A toolkit thread: what
// it allocates is untraced, and no signal of the program is ever delivered to it.
#pragma once

namespace measure::detail {

class Runtime;

/// Takes the timeline's first point and starts the thread, when the runtime writes a capture
/// and the timeline or checkpoints are on, or `measure run` named a status directory. A failure to start is said once
/// on stderr; the capture is then written at exit only. Call at start, and in a followed fork child.
void start_checkpoints(Runtime& rt) noexcept;

}  // namespace measure::detail
