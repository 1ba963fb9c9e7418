// Allocations on small stacks (fixture: tests/hostile/small_stacks.cpp): malloc, calloc, realloc,
// posix_memalign, new, new[] and aligned new on a makecontext coroutine, in a handler on a
// sigaltstack, and on a coroutine where a new thread makes its first allocation. In every mode
// the hooks may use at most 512 bytes of the program's stack more than the native run does (what
// they need beyond that runs on a stack of the toolkit's own), and a stack of exactly that size,
// above an inaccessible page, is enough.
#include <map>
#include <sstream>

#include <doctest/doctest.h>

#include "support/side_by_side.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::TempDir;

namespace {

constexpr std::size_t hook_budget = 512;
constexpr double timeout_seconds = 60;

// Both runs resolve every symbol at start: a lazily bound call's first resolution takes the
// loader kilobytes of stack (natively too), which is not what is measured here.
measure::test::ProcessOptions options_in(const TempDir& dir) {
  auto options = measure::test::reproducible_options(dir.path(), dir.path(), timeout_seconds);
  options.env.emplace_back("LD_BIND_NOW", "1");
  return options;
}

std::vector<std::string> mode_flags(const std::string& mode) {
  std::vector<std::string> flags = {"--mode", mode};
  if (mode == "sampled") {
    flags.insert(flags.end(), {"--sample-interval", "1"});  // every block sampled: every one walks
  }
  return flags;
}

// "PLACE OPERATION BYTES" lines: bytes by "PLACE OPERATION".
std::map<std::string, std::size_t> stack_use(const std::string& out) {
  std::map<std::string, std::size_t> use;
  std::istringstream in(out);
  std::string place;
  std::string operation;
  std::size_t bytes = 0;
  while (in >> place >> operation >> bytes) {
    use[place + " " + operation] = bytes;
  }
  return use;
}

}  // namespace

TEST_CASE("the hooks take at most 512 bytes more of a coroutine's or a sigaltstack's stack than natively") {
  TempDir dir;
  auto options = options_in(dir);
  auto native = measure::test::run_process_with({fixture_path("small_stacks"), "paint"}, options);
  REQUIRE(native.status() == 0);
  auto native_use = stack_use(native.out);
  REQUIRE(native_use.size() == 3 * 7);

  // The largest native use per place: a stack of that plus the budget must do under measure.
  std::map<std::string, std::size_t> place_need;
  for (const auto& [key, bytes] : native_use) {
    std::string place = key.substr(0, key.find(' '));
    place_need[place] = std::max(place_need[place], bytes + hook_budget);
  }

  for (std::string mode : {"exact", "sampled", "counters"}) {
    CAPTURE(mode);
    auto measured = measure::test::run_measured({fixture_path("small_stacks"), "paint"}, options,
                                                dir.file(mode + ".msr"), mode_flags(mode));
    REQUIRE(measured.status() == 0);
    auto measured_use = stack_use(measured.out);
    REQUIRE(measured_use.size() == native_use.size());
    for (const auto& [key, bytes] : native_use) {
      std::string case_key = key;  // Clang 14 cannot capture a structured binding in CAPTURE's lambda
      auto case_bytes = bytes;
      CAPTURE(case_key);
      CAPTURE(case_bytes);
      CHECK(measured_use[key] <= bytes + hook_budget);
    }
    for (const auto& [place, bytes] : place_need) {
      std::string case_place = place;  // Clang 14 cannot capture a structured binding in CAPTURE's lambda
      auto case_bytes = bytes;
      CAPTURE(case_place);
      CAPTURE(case_bytes);
      std::vector<std::string> argv = {fixture_path("small_stacks"), "run", place, std::to_string(bytes)};
      auto r = measure::test::run_side_by_side(argv, options, dir.file(mode + "-run.msr"), mode_flags(mode));
      measure::test::check_same_behaviour(r.native, r.measured);
      CHECK(r.measured.out == "ok\n");
    }
  }
}
