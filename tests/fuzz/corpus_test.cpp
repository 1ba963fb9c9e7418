// The fuzz corpora as a regression test, run by CI with any compiler (and under the sanitizer
// stage's AddressSanitizer): every seed (real captures, recordings and modules, truncated and
// bit-flipped variants) and every input that was once a finding goes through its target's own
// code (targets.h) again. For the capture reader, errors must also read well: one line naming
// the file.
#include <algorithm>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "format/capture.h"
#include "fuzz/fixed_checksums.h"
#include "fuzz/targets.h"
#include "support/error.h"
#include "support/subprocess.h"

using namespace measure;

namespace {

// The files of a corpus directory, sorted by name (a stable order for failure messages).
std::vector<std::filesystem::path> corpus(const std::string& relative) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(test::source_path(relative))) {
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

TEST_CASE("fuzz corpus: every capture seed decodes cleanly or gives a FormatError") {
  std::size_t seeds = 0;
  std::size_t decoded = 0;
  for (const std::filesystem::path& path : corpus("tests/fuzz/corpus")) {
    std::string name = path.filename().string();
    CAPTURE(name);
    std::vector<unsigned char> raw = read_file(path.string());
    ++seeds;
    // As the fuzz target does: the bytes as they are, then with their checksums repaired.
    for (const std::vector<unsigned char>& bytes : {raw, test::with_fixed_checksums(raw)}) {
      try {
        Capture c = parse_capture(bytes, name);
        CHECK(parse_capture(encode_capture(c), name) == c);
        ++decoded;
      } catch (const FormatError& e) {
        std::string what = e.what();
        CHECK(what.rfind(name + ": ", 0) == 0);
        CHECK(what.find('\n') == std::string::npos);
      }
    }
  }
  CHECK(seeds >= 10);
  CHECK(decoded >= 6);  // the real captures, twice
}

TEST_CASE("fuzz corpus: every input of every target runs through it cleanly") {
  struct Target {
    const char* corpus;
    void (*run)(std::span<const std::uint8_t>);
    std::size_t at_least;
  };
  for (const Target& target : {Target{"tests/fuzz/corpus", &test::fuzz_capture_reader, 10},
                               Target{"tests/fuzz/corpus_heaptrack", &test::fuzz_heaptrack_import, 5},
                               Target{"tests/fuzz/corpus_symbolizer", &test::fuzz_symbolizer, 5}}) {
    CAPTURE(target.corpus);
    std::size_t inputs = 0;
    for (const std::filesystem::path& path : corpus(target.corpus)) {
      std::string name = path.filename().string();
      CAPTURE(name);
      std::vector<unsigned char> bytes = read_file(path.string());
      CHECK_NOTHROW(target.run(bytes));
      ++inputs;
    }
    CHECK(inputs >= target.at_least);
  }
}
