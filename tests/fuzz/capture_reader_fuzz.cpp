// libFuzzer target for the capture reader: any bytes must either decode into a capture that
// re-encodes to an equal capture, or give a FormatError; never a crash, a hang, another
// exception or unbounded memory. Built only with clang (tests/fuzz/run.sh).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "format/capture.h"
#include "fuzz/fixed_checksums.h"
#include "support/error.h"

namespace {

void check(std::vector<unsigned char> bytes) {
  measure::Capture capture;
  try {
    capture = measure::parse_capture(bytes, "fuzz.msr");
  } catch (const measure::FormatError&) {
    return;
  }
  if (!(measure::parse_capture(measure::encode_capture(capture), "re-encoded") == capture)) {
    std::abort();  // what was read is not what the file says
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<unsigned char> bytes(data, data + size);
  check(bytes);
  check(measure::test::with_fixed_checksums(std::move(bytes)));
  return 0;
}
