// Runtime options, read once from MEASURE_* environment variables into a table. An unknown
// MEASURE_* variable or a bad value gives one warning on stderr and the default; nothing
// here ever fails the program.
#pragma once

#include <cstddef>
#include <cstdint>

#include "format/capture_format.h"

namespace measure::detail {

/// How the process is measured: the capture format's mode (format/capture_format.h).
using Mode = format::CaptureMode;

struct Options {
  Mode mode = Mode::exact;
  std::uint32_t depth = 64;                    // MEASURE_DEPTH, 1..max_depth
  std::uint64_t sample_interval = 512 * 1024;  // MEASURE_SAMPLE_INTERVAL, bytes
  bool follow_forks = false;                   // MEASURE_FOLLOW_FORKS=1
  bool follow_exec = false;                    // MEASURE_FOLLOW_EXEC=1
  char output[4096] = "measure.%n.%p.msr";     // MEASURE_OUTPUT, %p pid, %n program, %% percent
  bool output_set = false;                     // MEASURE_OUTPUT was given
  std::uint64_t checkpoint_ms = 2000;          // MEASURE_CHECKPOINT_INTERVAL (seconds); 0: none
  bool timeline = true;                        // MEASURE_TIMELINE=0: no live-bytes/RSS sampling
  bool intervals = true;                       // MEASURE_INTERVALS=0: no per-stack counts per interval
  bool shadow = true;                          // MEASURE_SHADOW=0: every block in the table
  std::uint64_t seed = 0;                      // MEASURE_SEED: sampled mode's seed, when seed_set
  bool seed_set = false;                       // else each process draws a random one
  // MEASURE_STATUS_DIR: where a process notes why its capture could not be written (an empty
  // file PID.ERRNO), for `measure run` to say; empty: nowhere.
  char status_dir[4096] = "";
};

constexpr std::uint32_t max_depth = 256;

/// Parses `environ`-style entries (NULL-terminated) into `options`, warning on stderr about
/// unknown variables and bad values. Safe before the C library is fully initialized: it only
/// reads the array and writes through platform::write_stderr.
void parse_environment(char* const* environment, Options& options) noexcept;

/// The variable through which `measure run` says what it added to the program's environment
/// (runtime/environment.h). Known to parse_environment, which leaves it to that unit.
constexpr const char injected_variable[] = "MEASURE_INJECTED";

/// Reads the decimal digits at the start of `text` into `value`. Returns the first byte after
/// them, or nullptr when there are none or the number does not fit 64 bits.
const char* parse_digits(const char* text, std::uint64_t* value) noexcept;

/// Parses a decimal byte count with an optional K/M/G suffix (binary units). False if bad.
bool parse_byte_count(const char* text, std::uint64_t* out) noexcept;

}  // namespace measure::detail
