// Libraries that come and go under `measure run` (fixture: tests/hostile/libraries.c): a
// library loaded, allocating and unloaded again and again, with another library often mapped
// where it was; blocks from it freed after it is gone or still live at the end; a library
// whose constructor allocates and loads another; a library opened with RTLD_DEEPBIND. Every
// block is attributed to the function and module that allocated it, whatever was mapped at
// that address later.
#include <filesystem>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support/checks.h"
#include "support/side_by_side.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::TempDir;

namespace {

constexpr int loads = 60;

struct Row {
  std::uint64_t alloc_count = 0;
  std::uint64_t live_count = 0;
  std::string module;
  std::string function;
};

// The report row (--by line) of the line of `marker` in `source`.
Row row_at(const nlohmann::json& report, const std::string& source, const std::string& marker) {
  int line = measure::test::marker_line(source, marker);
  Row found;
  for (const auto& row : report["rows"]) {
    if (row["key"]["line"] == line && row["key"]["file"].get<std::string>().find(source) != std::string::npos) {
      found.alloc_count += row["alloc_count"].get<std::uint64_t>();
      found.live_count += row["live_count"].get<std::uint64_t>();
      found.module = row["key"]["module"];
      found.function = row["key"]["function"];
    }
  }
  return found;
}

// `measure run` with `run_flags`, side by side with the native run; the capture's report by line.
nlohmann::json run_libraries(const TempDir& dir, const std::vector<std::string>& run_flags) {
  std::string fixtures = std::filesystem::path(fixture_path("libraries")).parent_path().string();
  std::vector<std::string> argv = {fixture_path("libraries"), fixtures, std::to_string(loads)};
  auto options = measure::test::reproducible_options(dir.path(), dir.path(), 60);
  auto r = measure::test::run_side_by_side(argv, options, dir.file("lib.msr"), run_flags);
  measure::test::check_same_behaviour(r.native, r.measured);
  REQUIRE(r.native.out == std::to_string(loads) + " loads of each library; constructor blocks allocated\n");

  auto report = measure::test::run_process(
      {measure::test::tool_path(), "report", dir.file("lib.msr"), "--by", "line", "--top", "0", "--format", "json"});
  REQUIRE(report.status() == 0);
  return nlohmann::json::parse(report.out);
}

}  // namespace

TEST_CASE("dlopen/dlclose churn, RTLD_DEEPBIND and a constructor that loads a library: the right module") {
  TempDir dir;
  nlohmann::json j = run_libraries(dir, {});
  CHECK(j["warnings"].empty());

  // Every load's block, and the constructor's call: all from churn_allocate in churn_lib,
  // although libdeep_lib.so and libctor_lib.so were mapped at its addresses later. Half of
  // the loop's blocks were freed after the library had gone.
  Row churn = row_at(j, "tests/hostile/libraries/churn_lib.c", "churn_malloc");
  CHECK(churn.alloc_count == loads + 1);
  CHECK(churn.live_count == loads / 2 + 1);
  CHECK(churn.function == "churn_allocate");
  CHECK(churn.module == fixture_path("libchurn_lib.so"));

  Row ctor = row_at(j, "tests/hostile/libraries/ctor_lib.c", "ctor_malloc");
  CHECK(ctor.alloc_count == 1);
  CHECK(ctor.function == "on_load");
  CHECK(ctor.module == fixture_path("libctor_lib.so"));

  // RTLD_DEEPBIND puts libc before the program's scope in the library's lookups; the audit
  // module (hooks/audit.cpp) still brings its calls to the hooks, bound immediately or
  // lazily, from its constructor and destructor too. Every free of its blocks is matched.
  Row deep = row_at(j, "tests/hostile/libraries/deep_lib.c", "deep_malloc");
  CHECK(deep.alloc_count == loads);
  CHECK(deep.live_count == loads / 2);
  CHECK(deep.function == "deep_allocate");
  CHECK(deep.module == fixture_path("libdeep_lib.so"));
  Row deep_ctor = row_at(j, "tests/hostile/libraries/deep_lib.c", "deep_ctor_malloc");
  CHECK(deep_ctor.alloc_count == loads);
  CHECK(deep_ctor.live_count == 0);
  CHECK(deep_ctor.function == "on_open");
  CHECK(j["dropped"]["unmatched_frees"] == 0);
}

TEST_CASE("--no-deepbind: libraries opened with RTLD_DEEPBIND are not traced, and that is counted") {
  TempDir dir;
  nlohmann::json j = run_libraries(dir, {"--no-deepbind"});
  Row churn = row_at(j, "tests/hostile/libraries/churn_lib.c", "churn_malloc");
  CHECK(churn.alloc_count == loads + 1);
  // Without the audit module the library's malloc is libc's: its blocks are not seen, the
  // program's frees of them are counted as unmatched (never fatal), and nothing is
  // attributed to a wrong line.
  CHECK(row_at(j, "tests/hostile/libraries/deep_lib.c", "deep_malloc").alloc_count == 0);
  CHECK(row_at(j, "tests/hostile/libraries/deep_lib.c", "deep_ctor_malloc").alloc_count == 0);
  CHECK(j["dropped"]["unmatched_frees"] == loads / 2);
}
