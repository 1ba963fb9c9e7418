// docs/api.md's worked example: "this loop allocates nothing", as a doctest test. The
// tokenizer keeps its token buffer between calls, except when asked to copy tokens (the
// regression the test catches). tests/api/framework_test.cpp runs it both ways.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <measure/doctest.hpp>

class Tokenizer {
 public:
  explicit Tokenizer(bool copy_tokens) : m_copy(copy_tokens) {}
  // Splits `line` at spaces into the reused token buffer.
  void tokenize(std::string_view line) {
    m_tokens.clear();
    std::size_t start = 0;
    while (start <= line.size()) {
      std::size_t end = line.find(' ', start);
      if (end == std::string_view::npos) {
        end = line.size();
      }
      m_tokens.push_back(line.substr(start, end - start));
      if (m_copy) {
        m_copies.emplace_back(line.substr(start, end - start));  // @the regression
      }
      start = end + 1;
    }
  }

 private:
  bool m_copy;
  std::vector<std::string_view> m_tokens;
  std::vector<std::string> m_copies;
};

std::vector<std::string> sample_lines() {
  return {"the quick brown fox", "jumps over the lazy dog", "a somewhat longer line of text with many words"};
}

TEST_CASE("tokenizing a line reuses the token buffer") {
  Tokenizer tok(std::getenv("TOKENIZER_COPIES") != nullptr);
  tok.tokenize("warm up the first call sizes the token buffer for the longest line ever seen here");
  for (const std::string& line : sample_lines()) {
    MEASURE_CHECK_NO_ALLOCATIONS(tok.tokenize(line));
  }
}
