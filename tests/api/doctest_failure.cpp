// A doctest program whose allocation assertion fails on purpose: the test suite checks that
// the failure message names the offending call site.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <cstdlib>

#include <measure/doctest.hpp>

void* volatile sink;

static void make_and_drop() {
  sink = std::malloc(24);  // @doctest_excess
  std::free(sink);
}

TEST_CASE("allocates where none were allowed") {
  MEASURE_CHECK_NO_ALLOCATIONS(make_and_drop(); make_and_drop());
}
