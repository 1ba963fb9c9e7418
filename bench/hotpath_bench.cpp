// Hot-path micro-benchmarks (Google Benchmark): the cost of one allocation and its free, in
// nanoseconds, for the run's mode. Run natively and under `measure run --mode M` by
// `measure_bench_overhead --micro`, which prints the modes side by side; or by hand:
//
//   build/bin/measure run --mode exact -- build/bin/measure_bench_hotpath
//
// Each benchmark keeps a small ring of live blocks so that frees are of blocks allocated a
// little earlier, as in a program, rather than of the block just allocated.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include <benchmark/benchmark.h>

namespace {

constexpr std::size_t ring_size = 64;

// Call depth above the allocation: stacks of realistic depth cost more to capture.
template <class F>
__attribute__((noinline)) void* at_depth(int depth, F&& allocate) {
  void* p = depth <= 0 ? allocate() : at_depth(depth - 1, allocate);
  benchmark::DoNotOptimize(p);
  return p;
}

void malloc_free(benchmark::State& state) {
  auto size = static_cast<std::size_t>(state.range(0));
  auto depth = static_cast<int>(state.range(1));
  void* ring[ring_size] = {};
  std::size_t i = 0;
  for (auto _ : state) {
    std::free(ring[i]);
    ring[i] = at_depth(depth, [&] { return std::malloc(size); });
    i = (i + 1) % ring_size;
  }
  for (void* p : ring) {
    std::free(p);
  }
}
BENCHMARK(malloc_free)->Args({16, 0})->Args({16, 16})->Args({256, 4})->Args({4096, 4})->Threads(1)->Threads(2);

void new_delete(benchmark::State& state) {
  auto depth = static_cast<int>(state.range(0));
  struct Node {
    long value[6];
  };
  Node* ring[ring_size] = {};
  std::size_t i = 0;
  for (auto _ : state) {
    delete ring[i];
    ring[i] = static_cast<Node*>(at_depth(depth, [] { return static_cast<void*>(new Node{}); }));
    i = (i + 1) % ring_size;
  }
  for (Node* p : ring) {
    delete p;
  }
}
BENCHMARK(new_delete)->Arg(4)->Threads(1)->Threads(2);

void realloc_grow(benchmark::State& state) {
  for (auto _ : state) {
    void* p = std::malloc(16);
    p = std::realloc(p, 64);
    p = std::realloc(p, 256);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}
BENCHMARK(realloc_grow);

// What the hot path's shared writes cost on this machine, uncontended, whatever the mode:
// the live-block table's spin lock (exchange, then a releasing store), the 8-byte add that
// frees without a site use, and the peak account's 16-byte compare-and-swap. Every recorded
// allocation and free pays one lock and one of the other two.
void locked_lock_unlock(benchmark::State& state) {
  std::atomic<bool> locked{false};
  for (auto _ : state) {
    while (locked.exchange(true, std::memory_order_acquire)) {
    }
    locked.store(false, std::memory_order_release);
  }
}
BENCHMARK(locked_lock_unlock);

void locked_add_8(benchmark::State& state) {
  std::atomic<std::uint64_t> word{0};
  for (auto _ : state) {
    word.fetch_sub(16, std::memory_order_relaxed);
  }
  benchmark::DoNotOptimize(word.load());
}
BENCHMARK(locked_add_8);

__extension__ using uint128 = unsigned __int128;

__attribute__((target("cx16"))) void locked_cas_16(benchmark::State& state) {
  alignas(16) static uint128 word = 0;
  for (auto _ : state) {
    uint128 expected = word;
    for (;;) {
      uint128 seen = __sync_val_compare_and_swap(&word, expected, expected + 16);
      if (seen == expected) {
        break;
      }
      expected = seen;
    }
  }
  benchmark::DoNotOptimize(word);
}
BENCHMARK(locked_cas_16);

}  // namespace

BENCHMARK_MAIN();
