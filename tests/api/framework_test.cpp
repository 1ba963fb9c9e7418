// The C API from a C program, named scopes in the capture, and the doctest/GoogleTest
// assertion macros failing with the offending call sites in their message.
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <doctest/doctest.h>

#include "format/capture.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::run_process;
using measure::test::source_path;
using measure::test::TempDir;

namespace {

std::map<std::string, int> marker_lines(const std::string& source) {
  std::map<std::string, int> lines;
  std::ifstream in(source);
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    auto at = text.find("// @");
    if (at != std::string::npos) {
      lines[text.substr(at + 4)] = n;
    }
  }
  return lines;
}

}  // namespace

TEST_CASE("the C API from C, and named scopes summed into the capture") {
  TempDir dir;
  std::string capture = dir.file("c.msr");
  auto r = run_process({fixture_path("c_api_test"), capture});
  CAPTURE(r.err);
  REQUIRE(r.status() == 0);
  measure::Capture c = measure::read_capture(capture);
  REQUIRE(c.scopes.size() == 2);
  const measure::ScopeRecord* scope = nullptr;
  const measure::ScopeRecord* loop = nullptr;
  for (const auto& s : c.scopes) {
    (s.name == "c-scope" ? scope : loop) = &s;
  }
  REQUIRE(scope != nullptr);
  REQUIRE(loop != nullptr);
  CHECK(scope->entries == 1);
  CHECK(scope->alloc_count == 2);
  CHECK(scope->alloc_bytes == 200);
  CHECK(scope->free_count == 1);
  CHECK(scope->net_bytes == 100);
  CHECK(scope->peak_max == 200);
  REQUIRE(scope->sites.size() == 2);
  CHECK(scope->sites[0].alloc_bytes + scope->sites[1].alloc_bytes == 200);
  CHECK(loop->name == "c-loop");
  CHECK(loop->entries == 3);
  CHECK(loop->alloc_count == 3);
  CHECK(loop->alloc_bytes == 24);
  CHECK(loop->free_count == 3);
  CHECK(loop->peak_max == 8);
  CHECK(loop->peak_sum == 24);
  REQUIRE(loop->sites.size() == 1);
  CHECK(loop->sites[0].alloc_count == 3);
  // Written on request by a linked library, without a preload: no exit status.
  CHECK_FALSE(c.program.exit.has_value());
  CHECK((c.program.flags & 1) == 0);  // a checkpoint, not the final capture
}

TEST_CASE("a linked program writes no capture at exit unless MEASURE_OUTPUT asks") {
  TempDir dir;
  auto quiet = run_process({fixture_path("c_api_test"), dir.file("explicit.msr")}, {}, dir.path());
  REQUIRE(quiet.status() == 0);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    files += 1;
    CHECK(e.path().filename() == "explicit.msr");
  }
  CHECK(files == 1);
  auto asked = run_process({fixture_path("c_api_test"), dir.file("explicit2.msr")},
                           {{"MEASURE_OUTPUT", dir.file("at-exit.msr")}});
  REQUIRE(asked.status() == 0);
  measure::Capture at_exit = measure::read_capture(dir.file("at-exit.msr"));
  CHECK((at_exit.program.flags & 1) == 1);
}

TEST_CASE("doctest: each failing limit names its value and the line behind it") {
  auto r = run_process({fixture_path("doctest_failure")});
  CHECK(r.status() != 0);
  auto lines = marker_lines(source_path("tests/api/doctest_failure.cpp"));
  std::string out = r.out + r.err;
  CAPTURE(out);
  CHECK(out.find("make_and_drop(); make_and_drop(): expected at most 0 allocations, got 2: ") != std::string::npos);
  CHECK(out.find("2 × 48 B at make_and_drop  doctest_failure.cpp:" + std::to_string(lines["doctest_excess"])) !=
        std::string::npos);
  CHECK(out.find("keep_two(): expected at most 0 blocks still live at its end, got 2: ") != std::string::npos);
  CHECK(out.find("200 B in 2 blocks still live from keep_two  doctest_failure.cpp:" +
                 std::to_string(lines["doctest_leak"])) != std::string::npos);
  CHECK(out.find("burst(): expected a peak of at most 4.0 KiB, got 4.9 KiB: ") != std::string::npos);
  CHECK(out.find("4.9 KiB at the peak from burst  doctest_failure.cpp:" + std::to_string(lines["doctest_peak"])) !=
        std::string::npos);
  CHECK(out.find("leak_on_a_thread(): expected at most 0 B still live at its end, got 128 B: ") != std::string::npos);
  CHECK(out.find("128 B in 1 block still live from leak_on_a_thread::{lambda}::operator()  doctest_failure.cpp:" +
                 std::to_string(lines["doctest_thread_leak"])) != std::string::npos);
  CHECK(out.find("test cases: 5 | 1 passed | 4 failed") != std::string::npos);
}

TEST_CASE("Catch2: each failing limit names its value and the line behind it") {
  auto r = run_process({fixture_path("catch2_failure")});
  CHECK(r.status() != 0);
  auto lines = marker_lines(source_path("tests/api/catch2_failure.cpp"));
  std::string out = r.out + r.err;
  CAPTURE(out);
  CHECK(out.find("make_and_drop(): expected at most 0 allocations, got 1: ") != std::string::npos);
  CHECK(out.find("1 × 32 B at make_and_drop  catch2_failure.cpp:" + std::to_string(lines["catch2_excess"])) !=
        std::string::npos);
  CHECK(out.find("keep_one(): expected at most 0 blocks still live at its end, got 1: ") != std::string::npos);
  CHECK(out.find("64 B in 1 block still live from keep_one  catch2_failure.cpp:" +
                 std::to_string(lines["catch2_leak"])) != std::string::npos);
  CHECK(out.find("test cases: 3 | 1 passed | 2 failed") != std::string::npos);
}

TEST_CASE("docs/api.md's worked example passes, and fails naming the regression's line") {
  std::string tool = std::filesystem::path(measure::test::tool_path()).parent_path() / "tokenizer_test";
  auto good = run_process({tool});
  CHECK(good.status() == 0);
  auto bad = run_process({tool}, {{"TOKENIZER_COPIES", "1"}});
  CHECK(bad.status() != 0);
  int line = marker_lines(source_path("examples/tokenizer_test.cpp"))["the regression"];
  CAPTURE(bad.out);
  CHECK(bad.out.find("expected at most 0 allocations, got 1: 1 allocation (") != std::string::npos);
  CHECK(bad.out.find("at Tokenizer::tokenize(std::basic_string_view<…>)  tokenizer_test.cpp:" + std::to_string(line)) !=
        std::string::npos);
}

TEST_CASE("GoogleTest: a passing expectation, and failing ones naming their value and line") {
  auto r = run_process({fixture_path("gtest_failure")});
  CHECK(r.status() != 0);
  int line = marker_lines(source_path("tests/api/gtest_failure.cpp"))["gtest_excess"];
  std::string out = r.out + r.err;
  CAPTURE(out);
  CHECK(out.find("[       OK ] Allocations.NoneWhenNoneAreMade") != std::string::npos);
  CHECK(out.find("[  FAILED  ] Allocations.TooMany") != std::string::npos);
  CHECK(out.find("expected at most 1 allocation, got 3: ") != std::string::npos);
  CHECK(out.find("3 × 120 B at make_and_drop  gtest_failure.cpp:" + std::to_string(line)) != std::string::npos);
  CHECK(out.find("[  FAILED  ] Allocations.Leaks") != std::string::npos);
  CHECK(out.find("keep_one(): expected at most 0 blocks still live at its end, got 1: ") != std::string::npos);
  CHECK(out.find("72 B in 1 block still live from keep_one  gtest_failure.cpp:" +
                 std::to_string(marker_lines(source_path("tests/api/gtest_failure.cpp"))["gtest_leak"])) !=
        std::string::npos);
}

TEST_CASE("with tracing off, the assertion macros fail and say nothing was measured, never pass") {
  const std::string why = "allocations are not traced (MEASURE_MODE=off, or the program does not link measure)";
  auto doctest_run = run_process({fixture_path("doctest_failure")}, {{"MEASURE_MODE", "off"}});
  std::string doctest_out = doctest_run.out + doctest_run.err;
  CAPTURE(doctest_out);
  CHECK(doctest_run.status() != 0);
  CHECK(doctest_out.find("make_and_drop(); make_and_drop(): expected at most 0 allocations, but " + why) !=
        std::string::npos);

  auto gtest_run = run_process({fixture_path("gtest_failure")}, {{"MEASURE_MODE", "off"}});
  std::string gtest_out = gtest_run.out + gtest_run.err;
  CAPTURE(gtest_out);
  CHECK(gtest_run.status() != 0);
  // The expectation that passes when traced fails untraced, rather than passing by counting nothing.
  CHECK(gtest_out.find("[  FAILED  ] Allocations.NoneWhenNoneAreMade") != std::string::npos);
  CHECK(gtest_out.find("x += 2: expected at most 0 allocations, but " + why) != std::string::npos);
  CHECK(gtest_out.find("[  FAILED  ] Allocations.TooMany") != std::string::npos);

  auto catch2_run = run_process({fixture_path("catch2_failure")}, {{"MEASURE_MODE", "off"}});
  std::string catch2_out = catch2_run.out + catch2_run.err;
  CAPTURE(catch2_out);
  CHECK(catch2_run.status() != 0);
  CHECK(catch2_out.find("test cases: 3 | 3 failed") != std::string::npos);
  // Catch2 wraps messages at 80 columns.
  CHECK(catch2_out.find("make_and_drop(): expected at most 1 allocation, but allocations are not\n  traced") !=
        std::string::npos);
}
