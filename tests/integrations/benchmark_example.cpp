// A Google Benchmark program with measure's memory manager and benchmarks whose allocations
// are known exactly; benchmark_test runs it with --benchmark_format=json. docs/integrations.md
// shows this file.
#include <array>
#include <cstdlib>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <measure/benchmark.hpp>

// Nothing allocated.
static void BM_sum(benchmark::State& state) {
  std::array<int, 64> values{};
  for (auto _ : state) {
    int sum = 0;
    for (int v : values) {
      sum += v;
    }
    benchmark::DoNotOptimize(sum);
  }
}
BENCHMARK(BM_sum);

// One 64-byte block per iteration, freed at once.
static void BM_malloc(benchmark::State& state) {
  for (auto _ : state) {
    void* p = std::malloc(64);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}
BENCHMARK(BM_malloc);

// One block of 4 * N bytes per iteration (std::vector<int>::reserve), for N = 100 and 1000.
static void BM_reserve(benchmark::State& state) {
  for (auto _ : state) {
    std::vector<int> v;
    v.reserve(static_cast<std::size_t>(state.range(0)));
    benchmark::DoNotOptimize(v.data());
  }
}
BENCHMARK(BM_reserve)->Arg(100)->Arg(1000);

// Three 1000-byte blocks held at once, then freed: 3 allocations and a 3000-byte peak.
static void BM_three_blocks(benchmark::State& state) {
  for (auto _ : state) {
    std::string a(999, 'a');
    std::string b(999, 'b');
    std::string c(999, 'c');
    benchmark::DoNotOptimize(a.data());
    benchmark::DoNotOptimize(b.data());
    benchmark::DoNotOptimize(c.data());
  }
}
BENCHMARK(BM_three_blocks);

// 32 bytes kept per iteration, 10 iterations: the heap grows by 320 bytes.
static std::vector<void*> g_kept;
static void BM_keep(benchmark::State& state) {
  for (auto _ : state) {
    g_kept.push_back(std::malloc(32));
  }
}
BENCHMARK(BM_keep)->Iterations(10)->Setup([](const benchmark::State&) { g_kept.reserve(64); });

int main(int argc, char** argv) {
  measure::BenchmarkMemoryManager memory;
  benchmark::RegisterMemoryManager(&memory);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  benchmark::RegisterMemoryManager(nullptr);
  for (void* p : g_kept) {
    std::free(p);
  }
  return 0;
}
