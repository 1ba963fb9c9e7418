// Allocation assertions for GoogleTest. Each counts only the calling thread's allocations in
// the statement (so the framework's own and other threads' work never make a test flaky)
// and, on failure, prints the offending call sites:
//
//   MEASURE_EXPECT_NO_ALLOCATIONS(sum = accumulate(values));
//   MEASURE_EXPECT_ALLOCATIONS_AT_MOST(2, parser.parse(line));
//   MEASURE_ASSERT_ALLOCATIONS_AT_MOST_MIN(12, 5, build_index(data));   // best of 5 runs
//
// An assertion that could measure nothing (tracing is off, 32 scopes are already open on the
// thread) fails and says why: it never passes by counting nothing. Where running without
// tracing is expected, skip such tests with `if (!measure::is_tracing()) GTEST_SKIP();`.
#pragma once

#include <gtest/gtest.h>
#include <measure/measure.hpp>

#define MEASURE_GTEST_ASSERT_(check, fail, limit, statement, counts_expr)               \
  do {                                                                                  \
    const ::measure::Counts measure_counts_ = counts_expr;                              \
    const auto measure_limit_ = static_cast<std::uint64_t>(limit);                      \
    if (!measure_counts_.measured()) {                                                  \
      fail() << ::measure::describe_excess(measure_counts_, measure_limit_, statement); \
    } else {                                                                            \
      check(measure_counts_.alloc_count, measure_limit_)                                \
          << ::measure::describe_excess(measure_counts_, measure_limit_, statement);    \
    }                                                                                   \
  } while (false)

#define MEASURE_EXPECT_ALLOCATIONS_AT_MOST(limit, ...) \
  MEASURE_GTEST_ASSERT_(EXPECT_LE, ADD_FAILURE, limit, #__VA_ARGS__, ::measure::count_allocations([&] { __VA_ARGS__; }))
#define MEASURE_ASSERT_ALLOCATIONS_AT_MOST(limit, ...) \
  MEASURE_GTEST_ASSERT_(ASSERT_LE, FAIL, limit, #__VA_ARGS__, ::measure::count_allocations([&] { __VA_ARGS__; }))
#define MEASURE_EXPECT_NO_ALLOCATIONS(...) MEASURE_EXPECT_ALLOCATIONS_AT_MOST(0, __VA_ARGS__)
#define MEASURE_ASSERT_NO_ALLOCATIONS(...) MEASURE_ASSERT_ALLOCATIONS_AT_MOST(0, __VA_ARGS__)
#define MEASURE_EXPECT_ALLOCATIONS_AT_MOST_MIN(limit, repetitions, ...) \
  MEASURE_GTEST_ASSERT_(EXPECT_LE, ADD_FAILURE, limit, #__VA_ARGS__,    \
                        ::measure::min_allocations([&] { __VA_ARGS__; }, repetitions))
#define MEASURE_ASSERT_ALLOCATIONS_AT_MOST_MIN(limit, repetitions, ...) \
  MEASURE_GTEST_ASSERT_(ASSERT_LE, FAIL, limit, #__VA_ARGS__,           \
                        ::measure::min_allocations([&] { __VA_ARGS__; }, repetitions))
