#include "npm_package.h"

#include <filesystem>
#include <vector>

#include <doctest/doctest.h>

#include "support/subprocess.h"

namespace measure::test {

std::string npm_package(const std::string& name, const std::string& version) {
  std::string prefix = std::string(MEASURE_NPM_DIR) + "/" + name + "-" + version;
  if (std::filesystem::exists(prefix + "/node_modules/" + name + "/package.json")) {
    return prefix;
  }
  std::filesystem::create_directories(prefix);
  ProcessResult r = run_process({"npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", "--no-save",
                                 "--loglevel=error", name + "@" + version});
  REQUIRE_MESSAGE(r.status() == 0, "npm install " << name << "@" << version << " failed: " << r.err);
  return prefix;
}

std::string run_node(const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"node", source_path(script)};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = run_process(argv);
  REQUIRE_MESSAGE(r.status() == 0, "node " << script << " failed: " << r.err);
  return r.out;
}

}  // namespace measure::test
