// Allocation assertions for doctest. Each counts only the calling thread's allocations in
// the statement (so doctest's own and other threads' work never make a test flaky) and, on
// failure, prints the statement, the limit, the value measured and the lines behind it:
//
//   MEASURE_CHECK_NO_ALLOCATIONS(sum = accumulate(values));
//   MEASURE_CHECK_ALLOCATIONS_AT_MOST(2, parser.parse(line));
//   MEASURE_CHECK_BYTES_AT_MOST(4096, parser.parse(line));          // bytes allocated
//   MEASURE_CHECK_PEAK_BYTES_AT_MOST(64 * 1024, sort(records));      // most bytes live at once
//   MEASURE_CHECK_NO_LEAKS(cache.refresh());                         // no block left live
//   MEASURE_CHECK_LEAKED_BYTES_AT_MOST(1024, cache.refresh());
//   MEASURE_CHECK_LIMIT(measure::Limit::live_count, 1, pool.grow()); // any limit
//   MEASURE_CHECK_LIMIT_WITH_THREADS(measure::Limit::alloc_bytes, 1 << 20, run_jobs()); // and the threads it starts
//   MEASURE_CHECK_BASELINE("allocs/parse.baseline", 0.1, parse(input));  // per function, vs a file
//   MEASURE_REQUIRE_ALLOCATIONS_AT_MOST_MIN(12, 5, build_index(data));   // best of 5 runs
//
// Every MEASURE_CHECK_ form has a MEASURE_REQUIRE_ form that stops the test case. An
// assertion that could measure nothing (tracing is off, 32 scopes are already open on the
// thread) fails and says why: it never passes by counting nothing. Where running without
// tracing is expected, guard the assertions with measure::is_tracing().
#pragma once

#include <doctest/doctest.h>
#include <measure/measure.hpp>

#define MEASURE_DOCTEST_REPORT_(check, failure)                           \
  do {                                                                    \
    const ::std::optional<::std::string> measure_failure_ = failure;      \
    check(!measure_failure_, measure_failure_.value_or(::std::string())); \
  } while (false)
#define MEASURE_CHECK_FAILURE_(failure) MEASURE_DOCTEST_REPORT_(CHECK_MESSAGE, failure)
#define MEASURE_REQUIRE_FAILURE_(failure) MEASURE_DOCTEST_REPORT_(REQUIRE_MESSAGE, failure)

#include <measure/detail/check_require.hpp>
