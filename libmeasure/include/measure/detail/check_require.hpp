// The MEASURE_CHECK_ and MEASURE_REQUIRE_ assertion names shared by the doctest and Catch2
// adapters (<measure/doctest.hpp>, <measure/catch2.hpp>); not for direct inclusion. The
// including adapter defines MEASURE_CHECK_FAILURE_(failure) and MEASURE_REQUIRE_FAILURE_(failure):
// report `failure`, an std::optional<std::string> holding the message when the assertion fails.
#pragma once

#include <measure/measure.hpp>

#define MEASURE_COUNT_CALLING_(...) ::measure::count_allocations([&] { __VA_ARGS__; })
#define MEASURE_COUNT_STARTED_(...) ::measure::count_allocations([&] { __VA_ARGS__; }, ::measure::Threads::started)
#define MEASURE_LIMIT_(limit, max, statement, counts) \
  ::measure::check_limit(counts, limit, static_cast<std::uint64_t>(max), statement)

#define MEASURE_CHECK_LIMIT(limit, max, ...) \
  MEASURE_CHECK_FAILURE_(MEASURE_LIMIT_(limit, max, #__VA_ARGS__, MEASURE_COUNT_CALLING_(__VA_ARGS__)))
#define MEASURE_REQUIRE_LIMIT(limit, max, ...) \
  MEASURE_REQUIRE_FAILURE_(MEASURE_LIMIT_(limit, max, #__VA_ARGS__, MEASURE_COUNT_CALLING_(__VA_ARGS__)))
#define MEASURE_CHECK_LIMIT_WITH_THREADS(limit, max, ...) \
  MEASURE_CHECK_FAILURE_(MEASURE_LIMIT_(limit, max, #__VA_ARGS__, MEASURE_COUNT_STARTED_(__VA_ARGS__)))
#define MEASURE_REQUIRE_LIMIT_WITH_THREADS(limit, max, ...) \
  MEASURE_REQUIRE_FAILURE_(MEASURE_LIMIT_(limit, max, #__VA_ARGS__, MEASURE_COUNT_STARTED_(__VA_ARGS__)))
#define MEASURE_CHECK_BASELINE(path, tolerance, ...) \
  MEASURE_CHECK_FAILURE_(::measure::check_baseline(MEASURE_COUNT_CALLING_(__VA_ARGS__), path, tolerance, #__VA_ARGS__))
#define MEASURE_REQUIRE_BASELINE(path, tolerance, ...) \
  MEASURE_REQUIRE_FAILURE_(                            \
      ::measure::check_baseline(MEASURE_COUNT_CALLING_(__VA_ARGS__), path, tolerance, #__VA_ARGS__))

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

#define MEASURE_CHECK_ALLOCATIONS_AT_MOST_MIN(max, repetitions, ...)                      \
  MEASURE_CHECK_FAILURE_(MEASURE_LIMIT_(::measure::Limit::alloc_count, max, #__VA_ARGS__, \
                                        ::measure::min_allocations([&] { __VA_ARGS__; }, repetitions)))
#define MEASURE_REQUIRE_ALLOCATIONS_AT_MOST_MIN(max, repetitions, ...)                      \
  MEASURE_REQUIRE_FAILURE_(MEASURE_LIMIT_(::measure::Limit::alloc_count, max, #__VA_ARGS__, \
                                          ::measure::min_allocations([&] { __VA_ARGS__; }, repetitions)))
