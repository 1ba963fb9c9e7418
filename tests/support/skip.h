// Tests that cannot run here say so where ctest shows it. A test case that needs what this
// machine lacks (a program that is not installed, root) calls skip_test_case and returns; a
// test program whose every case that ran was skipped exits with skipped_exit_status, which
// every doctest entry declares as its SKIP_RETURN_CODE (tests/CMakeLists.txt), so ctest lists
// it as skipped, not passed. Cases that can be skipped get a ctest entry of their own (a
// doctest test suite named after what they need), so that the rest of their program still
// counts as passed: a check that cannot run everywhere is a case of its own, never a silent
// branch inside another.
#pragma once

#include <string>

namespace measure::test {

inline constexpr int skipped_exit_status = 77;

/// The current test case cannot run here, for `reason`: reported (at the caller's `file` and
/// `line`), and counted as skipped. Return from the test case right after. (The builtins, not
/// std::source_location, which Clang 14 cannot compile with libstdc++ 12.)
void skip_test_case(const std::string& reason, const char* file = __builtin_FILE(), int line = __builtin_LINE());

/// The exit status of the test program given doctest's own (`doctest_status`): it when a
/// case failed, skipped_exit_status when every case that ran was skipped (or skipped by a
/// doctest::skip decorator), and a failure when no test case matched the filters at all (a
/// ctest entry naming a test suite that no longer exists). Prints the skips.
int exit_status(int doctest_status);

}  // namespace measure::test
