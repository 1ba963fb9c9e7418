// Node for the tests that check measure's output with JavaScript: independent readers from
// the npm registry (pprof-format), installed by the test itself into a cache directory under
// the build tree, and the script that drives the browser.
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
