// The in-process API's costs (docs/performance.md, "In-process API"):
//   - take_snapshot() with 10,000 distinct live call stacks (target: under 5 ms);
//   - statistics() with 16,807 (target: under 0.5 s and 50 MB);
//   - a Scope on a path that does not allocate (target: under 100 ns), named and unnamed,
//     and with tracing off.
// Prints medians of several runs. Links libmeasure, so it is traced from its start; it
// re-runs itself with MEASURE_MODE=off for the "off" figures.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include <measure/measure.hpp>

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<void*> g_blocks;

double cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

// A field of /proc/self/status in KiB: VmHWM (the largest resident set since the last reset)
// or VmRSS (now).
long status_kib(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  long kib = 0;
  char line[256];
  std::size_t n = std::strlen(field);
  while (f != nullptr && std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
      kib = std::atol(line + n + 1);
    }
  }
  if (f != nullptr) {
    std::fclose(f);
  }
  return kib;
}

// Resets VmHWM to the resident set now (Linux: "5" to clear_refs); returns that, in KiB.
long reset_peak_rss_kib() {
  if (std::FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
  return status_kib("VmRSS");
}

// Ten distinct call sites per level: four levels give 10,000 distinct stacks, each under a
// chain of plain frames so stacks have realistic depth (about 30 frames).
__attribute__((noinline)) void leaf(int depth, int fan, int chain);

__attribute__((noinline)) void chain_then_leaf(int depth, int fan, int chain) {
  if (chain > 0) {
    chain_then_leaf(depth, fan, chain - 1);
    asm volatile("" ::: "memory");  // not a tail call: every frame stays
    return;
  }
  leaf(depth, fan, 0);
  asm volatile("" ::: "memory");
}

// One function per branch: a compiler merges identical call sites inside one function.
template <int N>
__attribute__((noinline)) void branch(int depth, int fan) {
  chain_then_leaf(depth, fan, 0);
  asm volatile("" ::: "memory");
}

using Branch = void (*)(int, int);
constexpr Branch branches[] = {branch<0>, branch<1>, branch<2>, branch<3>, branch<4>,
                               branch<5>, branch<6>, branch<7>, branch<8>, branch<9>};

__attribute__((noinline)) void leaf(int depth, int fan, int) {
  if (depth == 0) {
    g_blocks.push_back(std::malloc(32));
    return;
  }
  for (int i = 0; i < fan && i < 10; ++i) {
    branches[i](depth - 1, fan);
  }
}

// statistics() of a snapshot of 16,807 distinct live call stacks (five levels of seven), by
// stack and by line (target: under 0.5 s and 50 MB): CPU time on a fresh snapshot (whose
// symbols are not read yet) and again on the same one, and how far the resident set peaks
// above its size before the call (the rows returned included).
void statistics_benchmark(int runs) {
  chain_then_leaf(5, 7, 20);
  std::vector<double> growth_mib;
  for (measure::By by : {measure::By::stack, measure::By::line}) {
    std::vector<double> first_ms;
    std::vector<double> again_ms;
    std::size_t rows = 0;
    for (int r = 0; r < std::min(runs, 3); ++r) {
      measure::Snapshot snap = measure::take_snapshot();
      long rss_before = reset_peak_rss_kib();
      double t0 = cpu_ms();
      rows = snap.statistics(by).size();
      double t1 = cpu_ms();
      if (by == measure::By::stack) {
        growth_mib.push_back(static_cast<double>(status_kib("VmHWM") - rss_before) / 1024.0);
      }
      rows = snap.statistics(by).size();
      double t2 = cpu_ms();
      first_ms.push_back(t1 - t0);
      again_ms.push_back(t2 - t1);
    }
    std::printf("statistics(By::%s): %zu rows: %.0f ms CPU on a fresh snapshot, %.0f ms again (medians)\n",
                by == measure::By::stack ? "stack" : "line", rows, median(first_ms), median(again_ms));
  }
  std::printf(
      "statistics(By::stack) on a fresh snapshot: the resident set peaked %.1f MiB above its size before "
      "the call (a later call of the process)\n",
      median(growth_mib));
  for (void* p : g_blocks) {
    std::free(p);
  }
  g_blocks.clear();
}

// The first statistics(By::stack) of a process, on a snapshot of 16,807 distinct live stacks
// and nothing else: the resident set's peak above its size before the call, in MiB. The first
// call also reads the debug information of every module the stacks pass through.
double first_call_growth_mib() {
  chain_then_leaf(5, 7, 20);
  measure::Snapshot snap = measure::take_snapshot();
  long rss_before = reset_peak_rss_kib();
  std::size_t rows = snap.statistics(measure::By::stack).size();
  double growth = static_cast<double>(status_kib("VmHWM") - rss_before) / 1024.0;
  return rows >= 16807 ? growth : -1.0;
}

// first_call_growth_mib() in fresh processes (this program again): the median of `runs`.
void first_call_benchmark(int runs) {
  std::vector<double> growth_mib;
  char self[4096] = {};
  if (::readlink("/proc/self/exe", self, sizeof self - 1) <= 0) {
    std::perror("readlink");
    std::exit(1);
  }
  std::fflush(stdout);
  ::setenv("BENCH_API_FIRST_CALL", "1", 1);
  for (int r = 0; r < std::min(runs, 5); ++r) {
    std::FILE* child = ::popen((std::string("'") + self + "'").c_str(), "r");
    double mib = -1.0;
    if (child == nullptr || std::fscanf(child, "%lf", &mib) != 1 || ::pclose(child) != 0 || mib < 0) {
      std::fprintf(stderr, "measure_bench_api: the first-call child failed\n");
      std::exit(1);
    }
    growth_mib.push_back(mib);
  }
  ::unsetenv("BENCH_API_FIRST_CALL");
  std::printf(
      "statistics(By::stack), the first call of a process, 16,807 live stacks: the resident set peaked %.1f MiB "
      "above its size before the call (median of %zu processes)\n",
      median(growth_mib), growth_mib.size());
}

void snapshot_benchmark(int runs) {
  g_blocks.reserve(20000);
  chain_then_leaf(4, 10, 20);
  std::vector<double> ms;
  std::size_t stacks = 0;
  for (int r = 0; r < runs; ++r) {
    auto t0 = Clock::now();
    measure::Snapshot snap = measure::take_snapshot();
    auto t1 = Clock::now();
    stacks = snap.size();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::printf(
      "take_snapshot: %zu live blocks, %zu call stacks in the snapshot: median %.2f ms (min %.2f, max %.2f) "
      "over %d runs\n",
      g_blocks.size(), stacks, median(ms), *std::min_element(ms.begin(), ms.end()),
      *std::max_element(ms.begin(), ms.end()), runs);
  for (void* p : g_blocks) {
    std::free(p);
  }
  g_blocks.clear();
}

template <class F>
double ns_per_iteration(F f, long iterations, int runs) {
  std::vector<double> ns;
  for (int r = 0; r < runs; ++r) {
    auto t0 = Clock::now();
    for (long i = 0; i < iterations; ++i) {
      f();
    }
    auto t1 = Clock::now();
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(iterations));
  }
  return median(ns);
}

void scope_benchmark(int runs) {
  constexpr long iterations = 2000000;
  volatile long sink = 0;
  double empty = ns_per_iteration([&] { sink = sink + 1; }, iterations, runs);
  double unnamed = ns_per_iteration(
      [&] {
        measure::Scope s;
        sink = sink + 1;
      },
      iterations, runs);
  double named = ns_per_iteration(
      [&] {
        measure::Scope s{"bench"};
        sink = sink + 1;
      },
      iterations, runs);
  double with_end = ns_per_iteration(
      [&] {
        measure::Scope s{"bench"};
        sink = sink + 1;
        sink = sink + static_cast<long>(s.end().alloc_count);
      },
      iterations, runs);
  std::printf(
      "scope (tracing %s): loop alone %.1f ns; unnamed Scope %.1f ns; named %.1f ns; named + end() %.1f ns "
      "(medians of %d runs of %ld)\n",
      measure::is_tracing() ? "on" : "off", empty, unnamed, named, with_end, runs, iterations);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 9;
  if (std::getenv("BENCH_API_FIRST_CALL") != nullptr) {
    std::printf("%.2f\n", first_call_growth_mib());
    return 0;
  }
  if (measure::is_tracing()) {
    snapshot_benchmark(runs);
    statistics_benchmark(runs);
    first_call_benchmark(runs);
  }
  scope_benchmark(runs);
  if (measure::is_tracing() && std::getenv("BENCH_API_CHILD") == nullptr) {
    std::fflush(stdout);
    ::setenv("MEASURE_MODE", "off", 1);
    ::setenv("BENCH_API_CHILD", "1", 1);

    ::execv("/proc/self/exe", argv);
    std::perror("execv");
    return 1;
  }
  return 0;
}
