// A GoogleTest program: one allocation assertion passes, two fail on purpose; the test suite
// checks that each failure names the limit, the value and the offending line.
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
  MEASURE_EXPECT_BASELINE("gtest_failure.baseline", 0.0, x += 1);
  EXPECT_EQ(x, 3);
}

void* kept;

static void keep_one() {
  kept = std::malloc(72);  // @gtest_leak
}

TEST(Allocations, Leaks) {
  MEASURE_EXPECT_NO_LEAKS(keep_one());
}

TEST(Allocations, TooMany) {
  MEASURE_EXPECT_ALLOCATIONS_AT_MOST(
      1, for (int i = 0; i < 3; ++i) { make_and_drop(); });
}
