// docs/architecture.md names the code it explains: every function or type it sets in bold
// (**`name`**) must be declared in the sources, and every source file it cites must exist, so
// a rename cannot leave the walk-through describing code that is gone.
#include <filesystem>
#include <regex>
#include <set>

#include <doctest/doctest.h>

#include "support/subprocess.h"

using measure::test::read_text;
using measure::test::source_path;

namespace {

// The text of every C and C++ source of the toolkit (not the tests), concatenated.
std::string all_sources() {
  std::string text;
  for (const char* folder : {"libmeasure", "hooks", "tools"}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(source_path(folder))) {
      std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".h" || ext == ".hpp" || ext == ".cpp" || ext == ".c")) {
        text += read_text(entry.path().string());
        text += '\n';
      }
    }
  }
  return text;
}

bool has_word(const std::string& text, const std::string& word) {
  auto is_identifier = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; };
  for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    bool starts = at == 0 || !is_identifier(text[at - 1]);
    bool ends = at + word.size() == text.size() || !is_identifier(text[at + word.size()]);
    if (starts && ends) {
      return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("every name docs/architecture.md sets in bold is in the sources") {
  std::string doc = read_text(source_path("docs/architecture.md"));
  std::string sources = all_sources();
  std::regex bold(R"(\*\*`([A-Za-z_][A-Za-z_0-9:]*)`\*\*)");
  std::set<std::string> names;
  for (std::sregex_iterator it(doc.begin(), doc.end(), bold), end; it != end; ++it) {
    names.insert((*it)[1].str());
  }
  CHECK(names.size() >= 30);
  for (const std::string& name : names) {
    CAPTURE(name);
    // Type::member: both parts must be there.
    std::size_t colons = name.rfind("::");
    if (colons != std::string::npos) {
      CHECK(has_word(sources, name.substr(0, name.find("::"))));
      CHECK(has_word(sources, name.substr(colons + 2)));
    } else {
      CHECK(has_word(sources, name));
    }
  }
}

TEST_CASE("every source file docs/architecture.md cites exists") {
  std::string doc = read_text(source_path("docs/architecture.md"));
  std::regex cited(R"(`([a-z_]+/[a-z_/]+\.(h|hpp|cpp|c))`)");
  int files = 0;
  for (std::sregex_iterator it(doc.begin(), doc.end(), cited), end; it != end; ++it) {
    std::string file = (*it)[1].str();
    CAPTURE(file);
    // Paths are relative to the repository or, for the library's folders, to libmeasure/.
    CHECK((std::filesystem::is_regular_file(source_path(file)) ||
           std::filesystem::is_regular_file(source_path("libmeasure/" + file))));
    ++files;
  }
  CHECK(files >= 10);
}
