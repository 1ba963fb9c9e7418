// The program's environment under `measure run` is its own: `env` prints exactly what it
// prints natively (sorted, since the runtime may reorder what it puts back), whatever the user
// had set of LD_PRELOAD, LD_AUDIT and MEASURE_*, with and without --follow-exec.
#include <filesystem>

#include <doctest/doctest.h>

#include "support/checks.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::run_process;
using measure::test::sorted_lines;
using measure::test::TempDir;
using measure::test::tool_path;

namespace {

using Environment = std::vector<std::pair<std::string, std::string>>;

// `env`, natively and under `measure run` with `options`, both with `user` added to the
// environment (and no MEASURE_* or loader variables of the test's own).
void check_same_environment(const std::vector<std::string>& options, const Environment& user) {
  const std::vector<std::string> clean = {
      "LD_PRELOAD",   "LD_AUDIT",         "MEASURE_OUTPUT",      "MEASURE_MODE",        "MEASURE_DEPTH",
      "MEASURE_SEED", "MEASURE_INJECTED", "MEASURE_FOLLOW_EXEC", "MEASURE_FOLLOW_FORKS"};
  TempDir dir;
  auto native = run_process({"env"}, user, {}, clean);
  std::vector<std::string> argv = {tool_path(), "run", "-q", "-o", dir.file("env.%p.msr")};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {"--", "env"});
  auto measured = run_process(argv, user, {}, clean);
  REQUIRE(native.status() == 0);
  CHECK(measured.status() == 0);
  CHECK(measured.err == native.err);  // nothing from the runtime: no warning either
  CHECK(sorted_lines(measured.out) == sorted_lines(native.out));
  int captures = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    captures += entry.path().extension() == ".msr" ? 1 : 0;
  }
  CHECK(captures == 1);  // env was traced
}

}  // namespace

TEST_CASE("the program's environment is its own: env prints what it prints natively") {
  SUBCASE("nothing of the user's") {
    check_same_environment({}, {});
  }
  SUBCASE("the user's own LD_PRELOAD and MEASURE_SEED") {
    check_same_environment({}, {{"LD_PRELOAD", fixture_path("libchurn_lib.so")}, {"MEASURE_SEED", "7"}});
  }
  SUBCASE("--follow-exec") {
    check_same_environment({"--follow-exec"}, {});
  }
  SUBCASE("--follow-exec, --follow-forks, sampled mode, and user values measure overrides") {
    // measure sets MEASURE_MODE, MEASURE_OUTPUT and LD_AUDIT itself: the program sees the
    // user's values. MEASURE_CHECKPOINT_INTERVAL is the user's, read by the runtime and left.
    check_same_environment({"--follow-exec", "--follow-forks", "--mode", "sampled", "--sample-interval", "1M"},
                           {{"LD_PRELOAD", fixture_path("libchurn_lib.so")},
                            {"LD_AUDIT", ""},
                            {"MEASURE_MODE", "counters"},
                            {"MEASURE_OUTPUT", "elsewhere;with=separators"},
                            {"MEASURE_CHECKPOINT_INTERVAL", "5"},
                            {"MEASURE_INJECTED", "the user's"}});
  }
}

TEST_CASE("a user's empty LD_PRELOAD stays empty, and --no-deepbind leaves LD_AUDIT alone") {
  check_same_environment({}, {{"LD_PRELOAD", ""}});
  // The user's own LD_AUDIT, which measure does not set with --no-deepbind: measure's audit
  // module is one a program can load without the preload.
  std::string audit =
      (std::filesystem::path(tool_path()).parent_path().parent_path() / "lib" / "libmeasure_audit.so").string();
  check_same_environment({"--no-deepbind"}, {{"LD_AUDIT", audit}});
}
