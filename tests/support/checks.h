// Checks shared by the end-to-end tests: where a fixture's marked line is, and what bad
// input to the measure command must look like.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/subprocess.h"

namespace measure::test {

/// The 1-based line of `source` (relative to the source tree) whose text contains
/// "@MARKER" followed by a space or the end of the line. Fails the current test when there
/// is none (a renamed marker must not turn assertions into comparisons with -1).
int marker_line(const std::string& source, const std::string& marker);

/// The lines of `text`, sorted: output whose order does not matter (an environment).
std::vector<std::string> sorted_lines(const std::string& text);

/// Bad input to the measure command: exit status 2 without a signal, nothing on standard
/// output, exactly one line on standard error that starts with "measure: " and contains
/// `fragment`.
void check_one_line_error(const ProcessResult& result, const std::string& fragment);

/// The rows of a report or diff document (`--format json`) by the function of their key;
/// rows without a function are left out.
std::map<std::string, nlohmann::json> rows_by_function(const nlohmann::json& document);

}  // namespace measure::test
