// docs/integrations.md shows the tested files: every C++ block in it must appear, exactly, in
// one of the example programs the test suite builds and runs.
#include <doctest/doctest.h>

#include "support/subprocess.h"

using measure::test::read_text;
using measure::test::source_path;

TEST_CASE("every C++ example in docs/integrations.md is part of a tested example file") {
  std::string examples;
  for (const char* file : {"tests/integrations/benchmark_example.cpp", "tests/integrations/doctest_example.cpp",
                           "tests/integrations/gtest_example.cpp", "tests/integrations/catch2_example.cpp"}) {
    examples += read_text(source_path(file));
  }
  std::string doc = read_text(source_path("docs/integrations.md"));
  const std::string open = "```cpp\n";
  int blocks = 0;
  for (std::size_t at = doc.find(open); at != std::string::npos; at = doc.find(open, at)) {
    at += open.size();
    std::size_t end = doc.find("```", at);
    REQUIRE(end != std::string::npos);
    std::string block = doc.substr(at, end - at);
    CAPTURE(block);
    CHECK(examples.find(block) != std::string::npos);
    ++blocks;
  }
  CHECK(blocks == 6);
}
