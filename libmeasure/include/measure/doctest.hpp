// Allocation assertions for doctest. Each counts only the calling thread's allocations in
// the statement (so doctest's own and other threads' work never make a test flaky) and, on
// failure, prints the offending call sites:
//
//   MEASURE_CHECK_NO_ALLOCATIONS(sum = accumulate(values));
//   MEASURE_CHECK_ALLOCATIONS_AT_MOST(2, parser.parse(line));
//   MEASURE_REQUIRE_ALLOCATIONS_AT_MOST_MIN(12, 5, build_index(data));   // best of 5 runs
//
// When tracing is off every assertion passes (nothing is counted); guard with
// measure::is_tracing() where that matters.
#pragma once

#include <doctest/doctest.h>
#include <measure/measure.hpp>

#define MEASURE_DOCTEST_ASSERT_(check, limit, counts_expr)                                                             \
  do {                                                                                                                 \
    const ::measure::Counts measure_counts_ = counts_expr;                                                             \
    const auto measure_limit_ = static_cast<std::uint64_t>(limit);                                                     \
    check(measure_counts_.allocations <= measure_limit_, ::measure::describe_excess(measure_counts_, measure_limit_)); \
  } while (false)

#define MEASURE_CHECK_ALLOCATIONS_AT_MOST(limit, ...) \
  MEASURE_DOCTEST_ASSERT_(CHECK_MESSAGE, limit, ::measure::count_allocations([&] { __VA_ARGS__; }))
#define MEASURE_REQUIRE_ALLOCATIONS_AT_MOST(limit, ...) \
  MEASURE_DOCTEST_ASSERT_(REQUIRE_MESSAGE, limit, ::measure::count_allocations([&] { __VA_ARGS__; }))
#define MEASURE_CHECK_NO_ALLOCATIONS(...) MEASURE_CHECK_ALLOCATIONS_AT_MOST(0, __VA_ARGS__)
#define MEASURE_REQUIRE_NO_ALLOCATIONS(...) MEASURE_REQUIRE_ALLOCATIONS_AT_MOST(0, __VA_ARGS__)
#define MEASURE_CHECK_ALLOCATIONS_AT_MOST_MIN(limit, repetitions, ...) \
  MEASURE_DOCTEST_ASSERT_(CHECK_MESSAGE, limit, ::measure::min_allocations([&] { __VA_ARGS__; }, repetitions))
#define MEASURE_REQUIRE_ALLOCATIONS_AT_MOST_MIN(limit, repetitions, ...) \
  MEASURE_DOCTEST_ASSERT_(REQUIRE_MESSAGE, limit, ::measure::min_allocations([&] { __VA_ARGS__; }, repetitions))
