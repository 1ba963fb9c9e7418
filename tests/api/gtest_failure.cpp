// A GoogleTest program: one allocation assertion passes, one fails on purpose; the test suite
// checks the failure message names the offending call site.
#include <cstdlib>

#include <measure/gtest.hpp>

void* volatile sink;

static void make_and_drop() {
  sink = std::malloc(40);  // @gtest_excess
  std::free(sink);
}

TEST(Allocations, NoneWhenNoneAreMade) {
  int x = 0;
  MEASURE_EXPECT_NO_ALLOCATIONS(x += 2);
  EXPECT_EQ(x, 2);
}

TEST(Allocations, TooMany) {
  MEASURE_EXPECT_ALLOCATIONS_AT_MOST(
      1, for (int i = 0; i < 3; ++i) { make_and_drop(); });
}
