// Running a program natively and under `measure run` side by side: the two runs must behave
// identically, and the capture must be complete. Used by the real-program and loop tests.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/subprocess.h"

namespace measure::test {

/// The first ELF executable called `name` in PATH, or empty. Wrapper scripts (a pyenv shim)
/// are passed over: they exec the real program, which then writes no capture of its own.
std::string elf_in_path(const std::string& name);

/// elf_in_path(name); when it is empty, the current test case is skipped (support/skip.h):
/// the caller returns.
std::string installed(const std::string& name);

/// Options for a reproducible run in `directory`: the same locale, time zone and home for
/// both runs, no inherited preload or capture path, and a time limit.
ProcessOptions reproducible_options(const std::string& directory, const std::string& home, double timeout_seconds);

struct SideBySide {
  ProcessResult native;
  ProcessResult measured;
};

/// `measure run -q -o capture [run_flags] -- argv...` with `options`.
ProcessResult run_measured(const std::vector<std::string>& argv, const ProcessOptions& options,
                           const std::string& capture, const std::vector<std::string>& run_flags = {});

/// `argv` natively, then under run_measured, with the same options.
SideBySide run_side_by_side(const std::vector<std::string>& argv, const ProcessOptions& options,
                            const std::string& capture, const std::vector<std::string>& run_flags = {});

/// Neither run timed out, and both had the same exit status (or signal), standard output and
/// standard error.
void check_same_behaviour(const ProcessResult& native, const ProcessResult& measured);

/// The capture at `path` is complete: written at exit by a runtime that owned malloc, no
/// warning, nothing dropped, unmatched, mismatched or without a stack, totals that add up, and
/// allocations attributed to `module` (a path, as the report names modules). Returns the
/// report (`--by module`, every row) for further checks.
nlohmann::json check_complete_capture(const std::string& path, const std::string& module);

/// check_complete_capture for the program `measure run` started itself, whose own module is
/// `argv[0]`; also its command line and exit status as recorded.
void check_top_capture(const std::string& path, const std::vector<std::string>& argv, int status);

}  // namespace measure::test
