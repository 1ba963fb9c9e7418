// Allocation assertions for GoogleTest. Each counts only the calling thread's allocations in
// the statement (so the framework's own and other threads' work never make a test flaky)
// and, on failure, prints the statement, the limit, the value measured and the lines behind
// it:
//
//   MEASURE_EXPECT_NO_ALLOCATIONS(sum = accumulate(values));
//   MEASURE_EXPECT_ALLOCATIONS_AT_MOST(2, parser.parse(line));
//   MEASURE_EXPECT_BYTES_AT_MOST(4096, parser.parse(line));           // bytes allocated
//   MEASURE_EXPECT_PEAK_BYTES_AT_MOST(64 * 1024, sort(records));       // most bytes live at once
//   MEASURE_EXPECT_NO_LEAKS(cache.refresh());                          // no block left live
//   MEASURE_EXPECT_LEAKED_BYTES_AT_MOST(1024, cache.refresh());
//   MEASURE_EXPECT_LIMIT(measure::Limit::live_count, 1, pool.grow());  // any limit
//   MEASURE_EXPECT_LIMIT_WITH_THREADS(measure::Limit::alloc_bytes, 1 << 20, run_jobs()); // and the threads it starts
//   MEASURE_EXPECT_BASELINE("allocs/parse.baseline", 0.1, parse(input));  // per function, vs a file
//   MEASURE_ASSERT_ALLOCATIONS_AT_MOST_MIN(12, 5, build_index(data));  // best of 5 runs
//
// Every MEASURE_EXPECT_ form has a MEASURE_ASSERT_ form that stops the test. An assertion
// that could measure nothing (tracing is off, 32 scopes are already open on the thread) fails
// and says why: it never passes by counting nothing. Where running without tracing is
// expected, skip such tests with `if (!measure::is_tracing()) GTEST_SKIP();`.
#pragma once

#include <gtest/gtest.h>
#include <measure/measure.hpp>

#define MEASURE_GTEST_REPORT_(fail, failure)                         \
  do {                                                               \
    const ::std::optional<::std::string> measure_failure_ = failure; \
    if (measure_failure_) {                                          \
      fail() << *measure_failure_;                                   \
    }                                                                \
  } while (false)
#define MEASURE_GTEST_COUNT_(...) ::measure::count_allocations([&] { __VA_ARGS__; })
#define MEASURE_GTEST_COUNT_THREADS_(...) \
  ::measure::count_allocations([&] { __VA_ARGS__; }, ::measure::Threads::started)
#define MEASURE_GTEST_LIMIT_(fail, limit, max, statement, counts) \
  MEASURE_GTEST_REPORT_(fail, ::measure::check_limit(counts, limit, static_cast<std::uint64_t>(max), statement))

#define MEASURE_EXPECT_LIMIT(limit, max, ...) \
  MEASURE_GTEST_LIMIT_(ADD_FAILURE, limit, max, #__VA_ARGS__, MEASURE_GTEST_COUNT_(__VA_ARGS__))
#define MEASURE_ASSERT_LIMIT(limit, max, ...) \
  MEASURE_GTEST_LIMIT_(FAIL, limit, max, #__VA_ARGS__, MEASURE_GTEST_COUNT_(__VA_ARGS__))
#define MEASURE_EXPECT_LIMIT_WITH_THREADS(limit, max, ...) \
  MEASURE_GTEST_LIMIT_(ADD_FAILURE, limit, max, #__VA_ARGS__, MEASURE_GTEST_COUNT_THREADS_(__VA_ARGS__))
#define MEASURE_ASSERT_LIMIT_WITH_THREADS(limit, max, ...) \
  MEASURE_GTEST_LIMIT_(FAIL, limit, max, #__VA_ARGS__, MEASURE_GTEST_COUNT_THREADS_(__VA_ARGS__))
#define MEASURE_EXPECT_BASELINE(path, tolerance, ...) \
  MEASURE_GTEST_REPORT_(ADD_FAILURE,                  \
                        ::measure::check_baseline(MEASURE_GTEST_COUNT_(__VA_ARGS__), path, tolerance, #__VA_ARGS__))
#define MEASURE_ASSERT_BASELINE(path, tolerance, ...) \
  MEASURE_GTEST_REPORT_(FAIL,                         \
                        ::measure::check_baseline(MEASURE_GTEST_COUNT_(__VA_ARGS__), path, tolerance, #__VA_ARGS__))

#define MEASURE_EXPECT_ALLOCATIONS_AT_MOST(max, ...) \
  MEASURE_EXPECT_LIMIT(::measure::Limit::alloc_count, max, __VA_ARGS__)
#define MEASURE_ASSERT_ALLOCATIONS_AT_MOST(max, ...) \
  MEASURE_ASSERT_LIMIT(::measure::Limit::alloc_count, max, __VA_ARGS__)
#define MEASURE_EXPECT_NO_ALLOCATIONS(...) MEASURE_EXPECT_ALLOCATIONS_AT_MOST(0, __VA_ARGS__)
#define MEASURE_ASSERT_NO_ALLOCATIONS(...) MEASURE_ASSERT_ALLOCATIONS_AT_MOST(0, __VA_ARGS__)
#define MEASURE_EXPECT_BYTES_AT_MOST(max, ...) MEASURE_EXPECT_LIMIT(::measure::Limit::alloc_bytes, max, __VA_ARGS__)
#define MEASURE_ASSERT_BYTES_AT_MOST(max, ...) MEASURE_ASSERT_LIMIT(::measure::Limit::alloc_bytes, max, __VA_ARGS__)
#define MEASURE_EXPECT_PEAK_BYTES_AT_MOST(max, ...) MEASURE_EXPECT_LIMIT(::measure::Limit::peak_bytes, max, __VA_ARGS__)
#define MEASURE_ASSERT_PEAK_BYTES_AT_MOST(max, ...) MEASURE_ASSERT_LIMIT(::measure::Limit::peak_bytes, max, __VA_ARGS__)
#define MEASURE_EXPECT_LEAKED_BYTES_AT_MOST(max, ...) \
  MEASURE_EXPECT_LIMIT(::measure::Limit::live_bytes, max, __VA_ARGS__)
#define MEASURE_ASSERT_LEAKED_BYTES_AT_MOST(max, ...) \
  MEASURE_ASSERT_LIMIT(::measure::Limit::live_bytes, max, __VA_ARGS__)
#define MEASURE_EXPECT_NO_LEAKS(...) MEASURE_EXPECT_LIMIT(::measure::Limit::live_count, 0, __VA_ARGS__)
#define MEASURE_ASSERT_NO_LEAKS(...) MEASURE_ASSERT_LIMIT(::measure::Limit::live_count, 0, __VA_ARGS__)

#define MEASURE_EXPECT_ALLOCATIONS_AT_MOST_MIN(max, repetitions, ...)                 \
  MEASURE_GTEST_LIMIT_(ADD_FAILURE, ::measure::Limit::alloc_count, max, #__VA_ARGS__, \
                       ::measure::min_allocations([&] { __VA_ARGS__; }, repetitions))
#define MEASURE_ASSERT_ALLOCATIONS_AT_MOST_MIN(max, repetitions, ...)          \
  MEASURE_GTEST_LIMIT_(FAIL, ::measure::Limit::alloc_count, max, #__VA_ARGS__, \
                       ::measure::min_allocations([&] { __VA_ARGS__; }, repetitions))
