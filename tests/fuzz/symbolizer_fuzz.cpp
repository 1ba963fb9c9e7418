// libFuzzer target: the symbolizer on a module file made of the input, named in every way a
// capture can name it (targets.h says what each input must do; scripts/fuzz.sh runs it).
#include <cstddef>
#include <cstdint>

#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  measure::test::fuzz_symbolizer({data, size});
  return 0;
}
