#include "support/checks.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

namespace measure::test {

int marker_line(const std::string& source, const std::string& marker) {
  std::ifstream in(source_path(source));
  REQUIRE_MESSAGE(in.good(), "cannot read " << source);
  std::string needle = "@" + marker;
  std::string text;
  for (int n = 1; std::getline(in, text); ++n) {
    std::size_t at = text.find(needle);
    if (at != std::string::npos) {
      std::size_t end = at + needle.size();
      if (end == text.size() || text[end] == ' ') {
        return n;
      }
    }
  }
  FAIL("no marker @" << marker << " in " << source);
  return -1;
}

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

void check_one_line_error(const ProcessResult& r, const std::string& fragment) {
  CAPTURE(r.err);
  CHECK(r.signal == 0);
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  REQUIRE(!r.err.empty());
  CHECK(r.err.rfind("measure: ", 0) == 0);
  CHECK(r.err.find('\n') == r.err.size() - 1);  // exactly one line
  CHECK(r.err.find(fragment) != std::string::npos);
}

std::map<std::string, nlohmann::json> rows_by_function(const nlohmann::json& document) {
  std::map<std::string, nlohmann::json> rows;
  for (const nlohmann::json& row : document["rows"]) {
    if (row["key"]["function"].is_string()) {
      rows[row["key"]["function"]] = row;
    }
  }
  return rows;
}

}  // namespace measure::test
