// A doctest program whose allocation assertions fail on purpose (and one that passes): the
// test suite checks that each failure names the limit, the value and the offending line.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <cstdlib>
#include <thread>

#include <measure/doctest.hpp>

void* volatile sink;
void* kept[2];

static void make_and_drop() {
  sink = std::malloc(24);  // @doctest_excess
  std::free(sink);
}

static void keep_two() {
  kept[0] = std::malloc(100), kept[1] = std::malloc(100);  // @doctest_leak
}

static void burst() {
  void* big = std::malloc(5000);  // @doctest_peak
  sink = big;
  std::free(big);
}

static void leak_on_a_thread() {
  std::thread([] {
    kept[0] = std::malloc(128);  // @doctest_thread_leak
  }).join();
}

TEST_CASE("a thread it starts leaks") {
  std::thread([] {}).join();  // the C library keeps a thread's stack and TLS for the next one
  MEASURE_CHECK_LIMIT_WITH_THREADS(measure::Limit::live_bytes, 0, leak_on_a_thread());
}

TEST_CASE("allocates where none were allowed") {
  MEASURE_CHECK_NO_ALLOCATIONS(make_and_drop(); make_and_drop());
}

TEST_CASE("leaks two blocks") {
  MEASURE_CHECK_NO_LEAKS(keep_two());
}

TEST_CASE("peaks above its limit") {
  MEASURE_CHECK_PEAK_BYTES_AT_MOST(4096, burst());
}

TEST_CASE("stays within its limits") {
  MEASURE_CHECK_NO_LEAKS(make_and_drop());
  MEASURE_CHECK_BASELINE("doctest_failure.baseline", 0.0, make_and_drop());
  MEASURE_CHECK_PEAK_BYTES_AT_MOST(24, make_and_drop(); make_and_drop());
  MEASURE_CHECK_BYTES_AT_MOST(48, make_and_drop(); make_and_drop());
  MEASURE_CHECK_LIMIT(measure::Limit::live_bytes, 200, keep_two());
}
