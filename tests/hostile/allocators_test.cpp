// Programs the preload cannot fully see say so loudly; the allocation API's edge cases give
// exactly the native results and errno.
#include <filesystem>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "format/capture.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;

TEST_CASE("a program with its own malloc: a warning before and after, and an incomplete capture") {
  TempDir dir;
  auto native = run_process({fixture_path("own_malloc")});
  auto measured = run_process({tool_path(), "run", "-q", "-o", dir.file("own.msr"), "--", fixture_path("own_malloc")});
  CHECK(measured.status() == native.status());
  CHECK(measured.out == native.out);
  CHECK(measured.err.find("defines its own malloc") != std::string::npos);
  CHECK(measured.err.find("is incomplete") != std::string::npos);
  measure::Capture c = measure::read_capture(dir.file("own.msr"));
  CHECK((c.program.flags & 2) != 0);
  REQUIRE_FALSE(c.warnings.empty());
  auto report = run_process({tool_path(), "report", dir.file("own.msr"), "--format", "json", "--top", "0"});
  REQUIRE(report.status() == 0);
  nlohmann::json j = nlohmann::json::parse(report.out);
  bool new_seen = false;
  for (const auto& row : j["rows"]) {
    if (row["key"]["file"].is_string() &&
        std::filesystem::path(row["key"]["file"].get<std::string>()).filename() == "own_malloc.cpp") {
      new_seen = row["alloc_count"] == 100 && row["alloc_bytes"] == 40000 && row["free_count"] == 100;
    }
  }
  CHECK(new_seen);  // operator new[] still reached measure
  auto text = run_process({tool_path(), "report", dir.file("own.msr")});
  CHECK(text.out.find("incomplete") != std::string::npos);
}

TEST_CASE("a program linked with mimalloc: malloc traced, direct mi_malloc calls named in a warning") {
  TempDir dir;
  auto native = run_process({fixture_path("uses_mimalloc")});
  auto measured =
      run_process({tool_path(), "run", "-q", "-o", dir.file("mi.msr"), "--", fixture_path("uses_mimalloc")});
  CHECK(measured.status() == native.status());
  CHECK(measured.out == native.out);
  CHECK(measured.err.find("calls mi_malloc") != std::string::npos);
  measure::Capture c = measure::read_capture(dir.file("mi.msr"));
  CHECK((c.program.flags & 2) == 0);  // malloc itself was ours
  auto report = run_process({tool_path(), "report", dir.file("mi.msr"), "--format", "json", "--top", "0"});
  nlohmann::json j = nlohmann::json::parse(report.out);
  bool malloc_seen = false;
  for (const auto& row : j["rows"]) {
    malloc_seen = malloc_seen || (row["alloc_bytes"] == 600 && row["alloc_count"] == 3);
  }
  CHECK(malloc_seen);
}

TEST_CASE("edge cases of the allocation API: identical results and errno, unknown frees counted") {
  TempDir dir;
  auto native = run_process({fixture_path("edge_cases")});
  REQUIRE(native.status() == 0);
  auto measured = run_process({tool_path(), "run", "-q", "-o", dir.file("edge.msr"), "--", fixture_path("edge_cases")});
  CHECK(measured.status() == native.status());
  CHECK(measured.out == native.out);
  CHECK(measured.err == native.err);
  auto line = native.out.find("malloc(32) with errno preset");
  REQUIRE(line != std::string::npos);
  CHECK(native.out.substr(line, native.out.find('\n', line) - line).find("block errno=1234") != std::string::npos);

  measure::Capture c = measure::read_capture(dir.file("edge.msr"));
  CHECK(c.diagnostic("unmatched_frees") == 1);
  CHECK(c.diagnostic("mismatched_frees") == 0);
}
