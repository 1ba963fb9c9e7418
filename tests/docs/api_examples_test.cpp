// docs/api.md's examples are tested programs: every `cpp` block of the page must appear, exactly,
// in examples/api_tour.cpp or examples/tokenizer_test.cpp, and every `c` block in
// examples/api_tour.c (declarations are listed in `c++` blocks and are not examples). The
// install test builds the tours with the page's own build lines and runs them.
#include <doctest/doctest.h>

#include "support/subprocess.h"

using measure::test::read_text;
using measure::test::source_path;

namespace {

// The bodies of the page's blocks opened with ```LANGUAGE.
std::vector<std::string> blocks(const std::string& doc, const std::string& language) {
  std::vector<std::string> out;
  const std::string open = "```" + language + "\n";
  for (std::size_t at = doc.find(open); at != std::string::npos; at = doc.find(open, at)) {
    at += open.size();
    std::size_t end = doc.find("```", at);
    REQUIRE(end != std::string::npos);
    out.push_back(doc.substr(at, end - at));
  }
  return out;
}

}  // namespace

TEST_CASE("every example in docs/api.md is part of a program the test suite builds and runs") {
  std::string doc = read_text(source_path("docs/api.md"));
  std::string cpp =
      read_text(source_path("examples/api_tour.cpp")) + read_text(source_path("examples/tokenizer_test.cpp"));
  std::string c = read_text(source_path("examples/api_tour.c"));
  std::vector<std::string> cpp_blocks = blocks(doc, "cpp");
  std::vector<std::string> c_blocks = blocks(doc, "c");
  CHECK(cpp_blocks.size() == 7);
  CHECK(c_blocks.size() == 2);
  for (const std::string& block : cpp_blocks) {
    CAPTURE(block);
    CHECK(cpp.find(block) != std::string::npos);
  }
  for (const std::string& block : c_blocks) {
    CAPTURE(block);
    CHECK(c.find(block) != std::string::npos);
  }
}
