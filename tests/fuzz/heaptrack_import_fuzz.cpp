// libFuzzer target: the heaptrack importer, and the captures it writes (targets.h says what
// each input must do; scripts/fuzz.sh runs it).
#include <cstddef>
#include <cstdint>

#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  measure::test::fuzz_heaptrack_import({data, size});
  return 0;
}
