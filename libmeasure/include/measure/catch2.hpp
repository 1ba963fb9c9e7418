// Allocation assertions for Catch2 (version 2, single header <catch2/catch.hpp>, as Debian
// ships it). Each counts only the calling thread's allocations in the statement (so other
// threads' work never makes a test flaky) and, on failure, prints the statement, the limit,
// the value measured and the lines behind it:
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

#include <catch2/catch.hpp>
#include <measure/measure.hpp>

#define MEASURE_CATCH2_LIMIT_(fail, limit, max, statement, counts_expr)                         \
  do {                                                                                          \
    const ::std::optional<::std::string> measure_failure_ =                                     \
        ::measure::check_limit(counts_expr, limit, static_cast<std::uint64_t>(max), statement); \
    if (measure_failure_) {                                                                     \
      fail(*measure_failure_);                                                                  \
    } else {                                                                                    \
      SUCCEED(statement);                                                                       \
    }                                                                                           \
  } while (false)

#define MEASURE_CATCH2_BASELINE_(fail, path, tolerance, statement, counts_expr) \
  do {                                                                          \
    const ::std::optional<::std::string> measure_failure_ =                     \
        ::measure::check_baseline(counts_expr, path, tolerance, statement);     \
    if (measure_failure_) {                                                     \
      fail(*measure_failure_);                                                  \
    } else {                                                                    \
      SUCCEED(statement);                                                       \
    }                                                                           \
  } while (false)

#define MEASURE_CATCH2_COUNT_(...) ::measure::count_allocations([&] { __VA_ARGS__; })
#define MEASURE_CATCH2_COUNT_THREADS_(...) \
  ::measure::count_allocations([&] { __VA_ARGS__; }, ::measure::Threads::started)

#define MEASURE_CHECK_LIMIT(limit, max, ...) \
  MEASURE_CATCH2_LIMIT_(FAIL_CHECK, limit, max, #__VA_ARGS__, MEASURE_CATCH2_COUNT_(__VA_ARGS__))
#define MEASURE_REQUIRE_LIMIT(limit, max, ...) \
  MEASURE_CATCH2_LIMIT_(FAIL, limit, max, #__VA_ARGS__, MEASURE_CATCH2_COUNT_(__VA_ARGS__))

#define MEASURE_CHECK_LIMIT_WITH_THREADS(limit, max, ...) \
  MEASURE_CATCH2_LIMIT_(FAIL_CHECK, limit, max, #__VA_ARGS__, MEASURE_CATCH2_COUNT_THREADS_(__VA_ARGS__))
#define MEASURE_REQUIRE_LIMIT_WITH_THREADS(limit, max, ...) \
  MEASURE_CATCH2_LIMIT_(FAIL, limit, max, #__VA_ARGS__, MEASURE_CATCH2_COUNT_THREADS_(__VA_ARGS__))

#define MEASURE_CHECK_BASELINE(path, tolerance, ...) \
  MEASURE_CATCH2_BASELINE_(FAIL_CHECK, path, tolerance, #__VA_ARGS__, MEASURE_CATCH2_COUNT_(__VA_ARGS__))
#define MEASURE_REQUIRE_BASELINE(path, tolerance, ...) \
  MEASURE_CATCH2_BASELINE_(FAIL, path, tolerance, #__VA_ARGS__, MEASURE_CATCH2_COUNT_(__VA_ARGS__))

#define MEASURE_CHECK_ALLOCATIONS_AT_MOST(max, ...) MEASURE_CHECK_LIMIT(::measure::Limit::alloc_count, max, __VA_ARGS__)
#define MEASURE_REQUIRE_ALLOCATIONS_AT_MOST(max, ...) \
  MEASURE_REQUIRE_LIMIT(::measure::Limit::alloc_count, max, __VA_ARGS__)
#define MEASURE_CHECK_NO_ALLOCATIONS(...) MEASURE_CHECK_ALLOCATIONS_AT_MOST(0, __VA_ARGS__)
#define MEASURE_REQUIRE_NO_ALLOCATIONS(...) MEASURE_REQUIRE_ALLOCATIONS_AT_MOST(0, __VA_ARGS__)
#define MEASURE_CHECK_BYTES_AT_MOST(max, ...) MEASURE_CHECK_LIMIT(::measure::Limit::alloc_bytes, max, __VA_ARGS__)
#define MEASURE_REQUIRE_BYTES_AT_MOST(max, ...) MEASURE_REQUIRE_LIMIT(::measure::Limit::alloc_bytes, max, __VA_ARGS__)
#define MEASURE_CHECK_PEAK_BYTES_AT_MOST(max, ...) MEASURE_CHECK_LIMIT(::measure::Limit::peak_bytes, max, __VA_ARGS__)
#define MEASURE_REQUIRE_PEAK_BYTES_AT_MOST(max, ...) \
  MEASURE_REQUIRE_LIMIT(::measure::Limit::peak_bytes, max, __VA_ARGS__)
#define MEASURE_CHECK_LEAKED_BYTES_AT_MOST(max, ...) MEASURE_CHECK_LIMIT(::measure::Limit::live_bytes, max, __VA_ARGS__)
#define MEASURE_REQUIRE_LEAKED_BYTES_AT_MOST(max, ...) \
  MEASURE_REQUIRE_LIMIT(::measure::Limit::live_bytes, max, __VA_ARGS__)
#define MEASURE_CHECK_NO_LEAKS(...) MEASURE_CHECK_LIMIT(::measure::Limit::live_count, 0, __VA_ARGS__)
#define MEASURE_REQUIRE_NO_LEAKS(...) MEASURE_REQUIRE_LIMIT(::measure::Limit::live_count, 0, __VA_ARGS__)

#define MEASURE_CHECK_ALLOCATIONS_AT_MOST_MIN(max, repetitions, ...)                  \
  MEASURE_CATCH2_LIMIT_(FAIL_CHECK, ::measure::Limit::alloc_count, max, #__VA_ARGS__, \
                        ::measure::min_allocations([&] { __VA_ARGS__; }, repetitions))
#define MEASURE_REQUIRE_ALLOCATIONS_AT_MOST_MIN(max, repetitions, ...)          \
  MEASURE_CATCH2_LIMIT_(FAIL, ::measure::Limit::alloc_count, max, #__VA_ARGS__, \
                        ::measure::min_allocations([&] { __VA_ARGS__; }, repetitions))
