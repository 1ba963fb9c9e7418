// A Catch2 program whose allocation assertions fail on purpose (and one that passes): the
// test suite checks that each failure names the limit, the value and the offending line.
#define CATCH_CONFIG_MAIN
#include <cstdlib>

#include <measure/catch2.hpp>

void* volatile sink;
void* kept;

static void make_and_drop() {
  sink = std::malloc(32);  // @catch2_excess
  std::free(sink);
}

static void keep_one() {
  kept = std::malloc(64);  // @catch2_leak
}

TEST_CASE("allocates where none were allowed") {
  MEASURE_CHECK_NO_ALLOCATIONS(make_and_drop());
}

TEST_CASE("leaks a block") {
  MEASURE_REQUIRE_NO_LEAKS(keep_one());
}

TEST_CASE("stays within its limits") {
  MEASURE_CHECK_ALLOCATIONS_AT_MOST(1, make_and_drop());
  MEASURE_CHECK_NO_LEAKS(make_and_drop());
  MEASURE_CHECK_BASELINE("catch2_failure.baseline", 0.0, make_and_drop());
}
