// libFuzzer target: the capture reader, and the reports and diffs of what it reads
// (targets.h says what each input must do; scripts/fuzz.sh runs it).
#include <cstddef>
#include <cstdint>

#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  measure::test::fuzz_capture_reader({data, size});
  return 0;
}
