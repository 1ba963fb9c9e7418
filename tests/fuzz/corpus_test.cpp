// The fuzz corpus as a regression test, run by CI with any compiler: every seed (real
// captures, truncated and bit-flipped variants, inputs that once crashed the reader) must
// decode and re-encode to an equal capture, or give one FormatError.
#include <filesystem>

#include <doctest/doctest.h>

#include "format/capture.h"
#include "fuzz/fixed_checksums.h"
#include "support/error.h"
#include "support/subprocess.h"

using namespace measure;

TEST_CASE("fuzz corpus: every seed decodes cleanly or gives a FormatError") {
  std::filesystem::path dir = test::source_path("tests/fuzz/corpus");
  std::size_t seeds = 0;
  std::size_t decoded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    CAPTURE(name);
    std::vector<unsigned char> raw = read_file(entry.path().string());
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
