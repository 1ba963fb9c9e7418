// Allocation assertions for GoogleTest. Each counts only the calling thread's allocations in
// the statement (so the framework's own and other threads' work never make a test flaky)
// and, on failure, prints the offending call sites:
//
//   MEASURE_EXPECT_NO_ALLOCATIONS(sum = accumulate(values));
//   MEASURE_EXPECT_ALLOCATIONS_AT_MOST(2, parser.parse(line));
//   MEASURE_ASSERT_ALLOCATIONS_AT_MOST_MIN(12, 5, build_index(data));   // best of 5 runs
//
// When tracing is off every assertion passes (nothing is counted).
#pragma once

#include <gtest/gtest.h>
#include <measure/measure.hpp>

#define MEASURE_GTEST_ASSERT_(check, limit, counts_expr)                                                               \
  do {                                                                                                                 \
    const ::measure::Counts measure_counts_ = counts_expr;                                                             \
    const auto measure_limit_ = static_cast<std::uint64_t>(limit);                                                     \
    check(measure_counts_.allocations, measure_limit_) << ::measure::describe_excess(measure_counts_, measure_limit_); \
  } while (false)

#define MEASURE_EXPECT_ALLOCATIONS_AT_MOST(limit, ...) \
  MEASURE_GTEST_ASSERT_(EXPECT_LE, limit, ::measure::count_allocations([&] { __VA_ARGS__; }))
#define MEASURE_ASSERT_ALLOCATIONS_AT_MOST(limit, ...) \
  MEASURE_GTEST_ASSERT_(ASSERT_LE, limit, ::measure::count_allocations([&] { __VA_ARGS__; }))
#define MEASURE_EXPECT_NO_ALLOCATIONS(...) MEASURE_EXPECT_ALLOCATIONS_AT_MOST(0, __VA_ARGS__)
#define MEASURE_ASSERT_NO_ALLOCATIONS(...) MEASURE_ASSERT_ALLOCATIONS_AT_MOST(0, __VA_ARGS__)
#define MEASURE_EXPECT_ALLOCATIONS_AT_MOST_MIN(limit, repetitions, ...) \
  MEASURE_GTEST_ASSERT_(EXPECT_LE, limit, ::measure::min_allocations([&] { __VA_ARGS__; }, repetitions))
#define MEASURE_ASSERT_ALLOCATIONS_AT_MOST_MIN(limit, repetitions, ...) \
  MEASURE_GTEST_ASSERT_(ASSERT_LE, limit, ::measure::min_allocations([&] { __VA_ARGS__; }, repetitions))
