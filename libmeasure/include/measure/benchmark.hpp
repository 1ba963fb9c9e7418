// Google Benchmark's memory hook, filled in by measure: allocations per iteration, bytes
// allocated and the peak, in every benchmark's results.
//
//   #include <measure/benchmark.hpp>          link measure::measure and benchmark::benchmark
//
//   int main(int argc, char** argv) {
//     measure::BenchmarkMemoryManager memory;
//     benchmark::RegisterMemoryManager(&memory);
//     benchmark::Initialize(&argc, argv);
//     benchmark::RunSpecifiedBenchmarks();
//     benchmark::RegisterMemoryManager(nullptr);
//   }
//
// After timing a benchmark, Google Benchmark runs it once more, for min(16, iterations)
// iterations, between Start() and Stop(); this manager measures that run with a
// measure::Scope. With --benchmark_format=json each run then has:
//   allocs_per_iter        allocations per iteration (Google Benchmark divides the count)
//   total_allocated_bytes  bytes allocated by the whole memory run; per iteration:
//                          total_allocated_bytes / min(16, iterations)
//   net_heap_growth        bytes allocated minus bytes freed by the memory run
//   max_bytes_used         the run's peak: most bytes it held at once
// Like every scope, it counts only the calling thread: the benchmark's body, which Google
// Benchmark runs on that thread, but not threads the body starts. Allocations made by Google
// Benchmark's own code during the run (its per-run bookkeeping) are left out, so the numbers
// are the benchmark's alone. When tracing is off (MEASURE_MODE=off) every figure is 0 and the
// manager says so once on stderr.
#pragma once

#include <cstdio>
#include <optional>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>
#include <measure/measure.hpp>

namespace measure {

namespace detail {

/// True when a call site belongs to Google Benchmark itself rather than to the benchmark: its
/// innermost frame outside the C and C++ runtime (and their headers) is in libbenchmark, or,
/// when the library is linked statically, in namespace benchmark.
inline bool is_benchmark_harness(const std::vector<StackFrame>& stack) {
  for (const StackFrame& f : stack) {
    std::string_view module = f.module;
    module.remove_prefix(module.rfind('/') == std::string_view::npos ? 0 : module.rfind('/') + 1);
    std::string_view file = f.file;
    bool runtime = module.starts_with("libstdc++") || module.starts_with("libc.") || module.starts_with("libc-") ||
                   module.starts_with("libgcc_s") || module.starts_with("libmeasure") ||
                   file.starts_with("/usr/include/") || file.find("/include/c++/") != std::string_view::npos;
    if (!runtime) {
      return module.starts_with("libbenchmark") || std::string_view(f.function).starts_with("benchmark::");
    }
  }
  return false;
}

}  // namespace detail

/// A benchmark::MemoryManager that measures each benchmark's memory run with measure. Register
/// one for the whole program (benchmark::RegisterMemoryManager); it must outlive the runs.
/// Start() and Stop() must be called on the same thread, as Google Benchmark does.
class BenchmarkMemoryManager : public ::benchmark::MemoryManager {
 public:
  void Start() override {
    m_scope.reset();
    m_scope.emplace();
  }

  void Stop(Result& result) override {
    if (!m_scope) {
      return;
    }
    const ScopeStats& stats = m_scope->end();
    if (!stats.measured()) {
      warn_not_measured(stats.status);
    }
    std::int64_t allocations = static_cast<std::int64_t>(stats.alloc_count);
    std::int64_t bytes = static_cast<std::int64_t>(stats.alloc_bytes);
    std::int64_t net = stats.live_bytes;
    std::int64_t peak = static_cast<std::int64_t>(stats.peak_bytes);
    // The harness's blocks live through the whole run (allocated before the first iteration,
    // freed after the last), so the run's peak is the benchmark's peak plus what they held.
    if (stats.alloc_count != 0 || stats.free_count != 0) {
      for (const ScopeSite& site : stats.sites()) {
        if (detail::is_benchmark_harness(site.stack)) {
          allocations -= static_cast<std::int64_t>(site.alloc_count);
          bytes -= static_cast<std::int64_t>(site.alloc_bytes);
          net -= site.live_bytes;
          peak -= site.peak_bytes;
        }
      }
    }
    result.num_allocs = allocations;
    result.total_allocated_bytes = bytes;
    result.net_heap_growth = net;
    result.max_bytes_used = peak;
    m_scope.reset();
  }

  // Google Benchmark 1.7 declares this deprecated form pure virtual; later versions drop it
  // (hence no `override`). Both forms fill in the same result.
  BENCHMARK_DISABLE_DEPRECATED_WARNING
  void Stop(Result* result) { Stop(*result); }
  BENCHMARK_RESTORE_DEPRECATED_WARNING

 private:
  static void warn_not_measured(ScopeStatus status) {
    static bool warned = false;
    if (!warned) {
      warned = true;
      std::fprintf(stderr, "measure: %s; the benchmarks' memory figures are 0\n", to_string(status));
    }
  }

  std::optional<Scope> m_scope;
};

}  // namespace measure
