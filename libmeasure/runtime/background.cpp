// The runtime's own thread: timeline samples, intervals, checkpoints and dumps.
#include "runtime/background.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "format/runtime_files.h"
#include "platform/platform.h"
#include "runtime/process_memory.h"
#include "runtime/runtime.h"
#include "support/log.h"

namespace measure::detail {
namespace {

// A `measure dump` of this process: the capture as it is now, to the path the request
// names, and the answer beside the request (dump-PID.done-STATUS, STATUS 0 or an errno).
void serve_dump_request(Runtime& rt, int pid) noexcept {
  char path[4096];
  if (!platform::take_dump_request(rt.options.status_dir, pid, path, sizeof path)) {
    return;
  }
  rt.modules.scan();
  int status = write_capture_file(rt, false, path);
  char answer[sizeof rt.options.status_dir + 64];
  if (static_cast<std::size_t>(std::snprintf(answer, sizeof answer, "%s/dump-%d.done-%d", rt.options.status_dir, pid,
                                             status)) < sizeof answer) {
    platform::create_marker(answer);
  }
}

// `measure detach` ended the recording of an attached runtime: the capture, to the output
// `measure attach` named, and the answer in the status directory (detach-PID.done-STATUS).
void write_detached_capture(Runtime& rt, int pid) noexcept {
  int expected = static_cast<int>(RuntimeState::detached);
  if (!rt.state.compare_exchange_strong(expected, static_cast<int>(RuntimeState::finished))) {
    return;  // the process is exiting, and its exit handler writes it
  }
  rt.modules.scan();
  rt.written_at_detach = true;
  int status = write_capture_file(rt, true);
  char answer[sizeof rt.options.status_dir + 64];
  if (static_cast<std::size_t>(std::snprintf(answer, sizeof answer, "%s/detach-%d.done-%d", rt.options.status_dir, pid,
                                             status)) < sizeof answer) {
    platform::create_marker(answer);
  }
}

// Samples the timeline every interval, closes intervals of per-stack counts, and writes a checkpoint every checkpoint
// interval, so a program killed by SIGKILL or the OOM killer still leaves a capture; under `measure run` it also
// answers dump requests. A toolkit thread: everything it allocates is untraced, and no signal of the program is ever
// delivered to it (platform::start_thread blocks them all).
void* background_thread(void*) noexcept {
  t_busy = true;
  Runtime& rt = runtime();
  int owner = rt.owner_pid;
  std::uint64_t checkpoint_ns = rt.options.checkpoint_ms * 1000000ULL;
  std::uint64_t next_checkpoint = checkpoint_ns;
  // Under `measure run` (which names a status directory) the thread also looks for a dump
  // request this often: a failed stat, nothing more.
  bool dumpable = rt.options.status_dir[0] != '\0';
  constexpr std::uint64_t dump_poll_ns = 100'000'000;
  std::uint64_t next_sample = platform::monotonic_ns() - rt.start_monotonic_ns + rt.timeline.sleep_ns();
  for (;;) {
    std::uint64_t now = platform::monotonic_ns() - rt.start_monotonic_ns;
    std::uint64_t wake = UINT64_MAX;
    if (rt.options.timeline) {
      wake = std::max(next_sample, now);
    }
    if (rt.keeps_intervals()) {
      wake = std::min(wake, std::max(rt.intervals.due_ns(), now));
    }
    if (checkpoint_ns != 0) {
      wake = std::min(wake, next_checkpoint);
    }
    if (dumpable) {
      wake = std::min(wake, now + dump_poll_ns);
    }
    platform::sleep_ns(wake > now ? wake - now : 0);
    RuntimeState state = rt.current();
    if (state == RuntimeState::prepared) {
      platform::sleep_ns(10'000'000);  // `measure attach` is about to redirect the program's calls
      continue;
    }
    if (state == RuntimeState::detached && platform::process_id() == owner) {
      write_detached_capture(rt, owner);
      return nullptr;
    }
    if (state != RuntimeState::recording || platform::process_id() != owner) {
      return nullptr;  // finished, off, or this copy of the thread belongs to an old parent
    }
    now = platform::monotonic_ns() - rt.start_monotonic_ns;
    if (rt.options.timeline && now >= next_sample) {
      ProcessMemory memory = process_memory(rt);
      rt.timeline.sample({now, memory.live, platform::resident_bytes()}, memory.peak);
      next_sample = now + rt.timeline.sleep_ns();
    }
    if (rt.keeps_intervals() && now >= rt.intervals.due_ns()) {
      rt.intervals.close(rt, now);
    }
    if (rt.redirect_new_modules != nullptr) {
      rt.redirect_new_modules();
    }
    if (dumpable) {
      serve_dump_request(rt, owner);
    }
    if (checkpoint_ns != 0 && now >= next_checkpoint) {
      rt.modules.scan();
      write_capture_file(rt, false);
      // A checkpoint costs in proportion to the distinct stacks (0.06 s of CPU for 200,000)
      // and competes with the program for a core: the next one waits at least twenty times
      // as long as this one took, so checkpoints never take more than 5% of the run.
      std::uint64_t done = platform::monotonic_ns() - rt.start_monotonic_ns;
      next_checkpoint = done + std::max(checkpoint_ns, 20 * (done - now));
    }
  }
}

}  // namespace

void start_checkpoints(Runtime& rt) noexcept {
  if (!rt.write_at_exit || (rt.options.checkpoint_ms == 0 && !rt.options.timeline && !rt.keeps_intervals() &&
                            rt.options.status_dir[0] == '\0')) {
    return;
  }
  if (rt.options.timeline) {
    // The chart's first point: nothing is live yet, or only what a forked child inherited.
    ProcessMemory memory = process_memory(rt);
    rt.timeline.sample({platform::monotonic_ns() - rt.start_monotonic_ns, memory.live, platform::resident_bytes()},
                       memory.peak);
  }
  if (!platform::start_thread(&background_thread, nullptr)) {
    LogLine().text("cannot start the background thread; no timeline, and the capture is written at exit only").emit();
  }
}

}  // namespace measure::detail
