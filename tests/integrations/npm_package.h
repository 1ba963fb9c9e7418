// npm packages for the tests that check measure's output with independent JavaScript
// readers (pprof-format) and a real browser (playwright-core). Each is installed by the test
// itself, from the npm registry, into a cache directory under the build tree.
#pragma once

#include <string>
#include <vector>

namespace measure::test {

/// The npm prefix holding `name` at `version` (node_modules/NAME inside), installed there
/// with `npm install` when it is not yet. Fails the current test when npm fails.
std::string npm_package(const std::string& name, const std::string& version);

/// Runs `node SCRIPT ARGS...` (SCRIPT relative to the source tree) and returns its standard
/// output; fails the current test when node fails, with its standard error in the message.
std::string run_node(const std::string& script, const std::vector<std::string>& args);

}  // namespace measure::test
