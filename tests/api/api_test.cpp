// The in-process API against exactly known allocations. This executable links libmeasure,
// so it is traced from its start; CTest also runs it with MEASURE_MODE=off and under
// `measure run` (the preloaded runtime must answer, counting nothing twice).
#include <unistd.h>

#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <doctest/doctest.h>
#include <measure/doctest.hpp>
#include <measure/measure.hpp>

extern "C" void* measure_test_nodebug_allocate(std::size_t n);

namespace {

void* volatile g_sink;

bool tracing() {
  return measure::is_tracing();
}
const bool g_tracing = tracing();

std::string this_file() {
  return std::filesystem::weakly_canonical(__FILE__).string();
}

bool same_file(const std::string& a, const std::string& b) {
  return !a.empty() && std::filesystem::weakly_canonical(a) == std::filesystem::weakly_canonical(b);
}

const measure::Statistic* find_line(const std::vector<measure::Statistic>& stats, int line) {
  for (const auto& s : stats) {
    if (s.key.line() == static_cast<std::uint32_t>(line) && same_file(s.key.file(), this_file())) {
      return &s;
    }
  }
  return nullptr;
}

int g_line_helper = 0;
__attribute__((noinline)) void* helper_allocation(std::size_t n) {
  g_line_helper = __LINE__ + 1;
  void* p = std::malloc(n);
  g_sink = p;
  return p;
}
__attribute__((noinline)) void* caller_of_helper(std::size_t n) {
  void* p = helper_allocation(n);
  g_sink = p;
  return p;
}

int g_line_recursive = 0;
__attribute__((noinline)) void* recurse(int depth) {
  if (depth == 0) {
    g_line_recursive = __LINE__ + 1;
    void* p = std::malloc(40);
    g_sink = p;
    return p;
  }
  void* p = recurse(depth - 1);
  g_sink = p;
  return p;
}

}  // namespace

TEST_CASE("process-wide traced memory and reset_peak" * doctest::skip(!g_tracing)) {
  measure::TracedMemory before = measure::traced_memory();
  void* a = std::malloc(1000);
  void* b = std::malloc(2000);
  measure::TracedMemory both = measure::traced_memory();
  std::free(a);
  std::free(b);
  measure::TracedMemory after = measure::traced_memory();
  measure::reset_peak();
  measure::TracedMemory reset = measure::traced_memory();
  void* c = std::malloc(5000);
  std::free(c);
  measure::TracedMemory later = measure::traced_memory();
  CHECK(both.current - before.current == 3000);
  CHECK(after.current == before.current);
  CHECK(both.peak >= both.current);
  CHECK(reset.peak == reset.current);
  CHECK(later.peak == reset.current + 5000);
}

TEST_CASE("per-thread traced memory counts only the calling thread" * doctest::skip(!g_tracing)) {
  measure::ThreadMemory here_before = measure::thread_traced_memory();
  measure::ThreadMemory seen{};
  measure::Scope starting;  // what starting the thread costs this thread (its state block)
  std::thread t([&] {
    measure::ThreadMemory start = measure::thread_traced_memory();
    void* p = std::malloc(700);
    void* q = std::malloc(300);
    std::free(q);
    measure::ThreadMemory mid = measure::thread_traced_memory();
    measure::reset_thread_peak();
    measure::ThreadMemory reset = measure::thread_traced_memory();
    std::free(p);
    seen = {mid.current - start.current, mid.peak - start.current};
    CHECK(reset.peak == reset.current);
  });
  measure::ScopeStats start_cost = starting.end();
  t.join();
  CHECK(seen.current == 700);
  CHECK(seen.peak == 1000);
  // The other thread's 1,000 bytes are not this thread's; only starting it was.
  CHECK(measure::thread_traced_memory().current == here_before.current + start_cost.alloc_bytes);
  CHECK(start_cost.alloc_count >= 1);
}

// The totals a thread sees change between two points, field by field.
measure::Totals totals_change(const measure::Totals& from, const measure::Totals& to) {
  measure::Totals d;
  d.alloc_count = to.alloc_count - from.alloc_count;
  d.alloc_bytes = to.alloc_bytes - from.alloc_bytes;
  d.free_count = to.free_count - from.free_count;
  d.freed_bytes = to.freed_bytes - from.freed_bytes;
  d.live_count = to.live_count - from.live_count;
  d.live_bytes = to.live_bytes - from.live_bytes;
  d.temporary_count = to.temporary_count - from.temporary_count;
  return d;
}

TEST_CASE("process and thread totals count every event in the report's metric names" * doctest::skip(!g_tracing)) {
  bool exact = measure::settings().mode == "exact";
  measure::Totals thread_change;
  measure::Totals process_change;
  measure::Totals thread_now;
  measure::Totals process_now;
  std::uint64_t thread_peak_after_reset = 0;
  // On a thread of its own, while the main thread waits in join(): the process's change is
  // this thread's.
  std::thread t([&] {
    measure::Totals thread_start = measure::thread_totals();
    measure::Totals process_start = measure::totals();
    void* a = std::malloc(100);
    void* b = std::malloc(200);
    std::free(a);
    void* scratch = std::malloc(30);  // freed before the thread's next allocation: temporary
    std::free(scratch);
    thread_now = measure::thread_totals();
    process_now = measure::totals();
    measure::reset_thread_peak();
    thread_peak_after_reset = measure::thread_totals().peak_bytes;
    std::free(b);
    thread_change = totals_change(thread_start, thread_now);
    process_change = totals_change(process_start, process_now);
  });
  t.join();
  for (const measure::Totals* change : {&thread_change, &process_change}) {
    CHECK(change->alloc_count == 3);
    CHECK(change->alloc_bytes == 330);
    CHECK(change->free_count == 2);
    CHECK(change->freed_bytes == 130);
    CHECK(change->live_count == 1);
    CHECK(change->live_bytes == 200);
  }
  CHECK(process_change.temporary_count == (exact ? 1U : 0U));
  CHECK(thread_now.temporary_count == 0);  // the process's only
  CHECK(thread_now.live_bytes == static_cast<std::int64_t>(thread_now.alloc_bytes - thread_now.freed_bytes));
  CHECK(thread_now.peak_bytes >= static_cast<std::uint64_t>(thread_now.live_bytes) + 30);
  CHECK(thread_peak_after_reset == static_cast<std::uint64_t>(thread_now.live_bytes));
  CHECK(process_now.peak_bytes >= static_cast<std::uint64_t>(process_now.live_bytes));
  CHECK(thread_now.peak_count == 0);  // scopes only
}

TEST_CASE("a scope counts allocations, frees, net change, its peak and the sites at the peak" *
          doctest::skip(!g_tracing)) {
  const int line_a = __LINE__ + 3;
  const int line_b = __LINE__ + 3;
  measure::Scope scope{"api-basic"};
  void* a = std::malloc(100);
  void* b = std::malloc(50);
  std::free(a);
  measure::ScopeStats stats = scope.end();
  std::free(b);
  CHECK(stats.alloc_count == 2);
  CHECK(stats.alloc_bytes == 150);
  CHECK(stats.free_count == 1);
  CHECK(stats.freed_bytes == 100);
  CHECK(stats.live_bytes == 50);
  CHECK(stats.live_count == 1);
  CHECK(stats.peak_bytes == 150);
  std::vector<measure::ScopeSite> at_peak = stats.sites_at_peak();
  REQUIRE(at_peak.size() == 2);
  CHECK(at_peak[0].peak_bytes == 100);
  CHECK(at_peak[0].stack.at(0).line == static_cast<std::uint32_t>(line_a));
  CHECK(at_peak[1].peak_bytes == 50);
  CHECK(at_peak[1].stack.at(0).line == static_cast<std::uint32_t>(line_b));
  std::vector<measure::ScopeSite> sites = stats.sites();
  REQUIRE(sites.size() == 2);
  CHECK(sites[0].alloc_bytes == 100);
  CHECK(sites[0].freed_bytes == 100);
  CHECK(sites[0].live_bytes == 0);
  CHECK(sites[1].live_bytes == 50);
  CHECK(scope.end().alloc_count == 2);  // idempotent
}

TEST_CASE("nested scopes: the outer peak can happen inside the inner scope" * doctest::skip(!g_tracing)) {
  const int line_keep = __LINE__ + 3;
  const int line_burst = __LINE__ + 6;
  measure::Scope outer{"api-outer"};
  void* keep = std::malloc(10);
  measure::ScopeStats inner_stats;
  {
    measure::Scope inner{"api-inner"};
    void* burst = std::malloc(1000);
    std::free(burst);
    inner_stats = inner.end();
  }
  void* tail = std::malloc(20);
  measure::ScopeStats outer_stats = outer.end();
  std::free(keep);
  std::free(tail);
  CHECK(inner_stats.alloc_count == 1);
  CHECK(inner_stats.peak_bytes == 1000);
  CHECK(inner_stats.peak_count == 1);
  CHECK(inner_stats.live_bytes == 0);
  CHECK(outer_stats.alloc_count == 3);
  CHECK(outer_stats.alloc_bytes == 1030);
  CHECK(outer_stats.live_bytes == 30);
  CHECK(outer_stats.peak_bytes == 1010);  // reached inside the inner scope
  CHECK(outer_stats.peak_count == 2);     // the kept block and the burst
  std::vector<measure::ScopeSite> at_peak = outer_stats.sites_at_peak();
  REQUIRE(at_peak.size() == 2);
  CHECK(at_peak[0].stack.at(0).line == static_cast<std::uint32_t>(line_burst));
  CHECK(at_peak[0].peak_bytes == 1000);
  CHECK(at_peak[1].stack.at(0).line == static_cast<std::uint32_t>(line_keep));
  CHECK(at_peak[1].peak_bytes == 10);
}

namespace {

// `n` allocations of `size` bytes, kept until free_all().
struct Blocks {
  void* blocks[16] = {};
  int count = 0;
  void allocate(int n, std::size_t size) {
    for (int i = 0; i < n; ++i) {
      blocks[count++] = std::malloc(size);
    }
  }
  void free_all() {
    for (int i = 0; i < count; ++i) {
      std::free(blocks[i]);
    }
    count = 0;
  }
};

}  // namespace

TEST_CASE("scopes ended out of order each report their own counts" * doctest::skip(!g_tracing)) {
  Blocks blocks;
  std::optional<measure::Scope> a(std::in_place, "api-a");
  blocks.allocate(4, 16);  // a only
  std::optional<measure::Scope> b(std::in_place, "api-b");
  blocks.allocate(5, 16);  // a and b
  measure::ScopeStats a_stats = a->end();
  blocks.allocate(3, 16);  // b only
  measure::ScopeStats b_stats = b->end();
  blocks.free_all();
  CHECK(a_stats.measured());
  CHECK(a_stats.alloc_count == 9);
  CHECK(a_stats.alloc_bytes == 144);
  CHECK(b_stats.measured());
  CHECK(b_stats.alloc_count == 8);
  CHECK(b_stats.alloc_bytes == 128);
}

TEST_CASE("a C scope left open inside a C++ scope keeps its own counts, and the C++ scope its own" *
          doctest::skip(!g_tracing)) {
  Blocks blocks;
  measure::ScopeStats outer;
  measure_scope_totals_t c_totals{};
  {
    measure::Scope scope{"api-cxx"};
    blocks.allocate(2, 8);  // the C++ scope only
    REQUIRE(measure_scope_begin("api-c") == 1);
    blocks.allocate(3, 8);  // both
    outer = scope.end();    // the C scope stays open
    blocks.allocate(1, 8);  // the C scope only
  }
  REQUIRE(measure_scope_end(&c_totals) == 1);
  // A C scope opened outside a C++ scope: the C end closes the C scope, not the C++ one.
  REQUIRE(measure_scope_begin("api-c2") == 1);
  measure::Scope inner{"api-cxx2"};
  blocks.allocate(2, 8);
  measure_scope_totals_t c2_totals{};
  REQUIRE(measure_scope_end(&c2_totals) == 1);
  blocks.allocate(1, 8);
  measure::ScopeStats inner_stats = inner.end();
  blocks.free_all();
  CHECK(outer.alloc_count == 5);
  CHECK(c_totals.alloc_count == 4);
  CHECK(c2_totals.alloc_count == 2);
  CHECK(inner_stats.alloc_count == 3);
}

TEST_CASE("a scope ended on another thread says so, and never stops its own thread's scopes" *
          doctest::skip(!g_tracing)) {
  // More than the nesting limit: scopes left open by ends on other threads would otherwise
  // use up the opening thread's scopes.
  for (int i = 0; i < 40; ++i) {
    auto scope = std::make_unique<measure::Scope>("api-moved");
    measure::ScopeStats moved;
    std::thread([&] { moved = scope->end(); }).join();
    REQUIRE(moved.status == measure::ScopeStatus::other_thread);
    CHECK(moved.alloc_count == 0);
    CHECK(moved.describe() == "nothing was measured: the scope ended on a thread other than the one that opened it");
    scope.reset();  // ended already: its destructor does nothing more
  }
  measure::Counts c = measure::count_allocations([] { g_sink = std::malloc(24); });
  std::free(g_sink);
  CHECK(c.measured());
  CHECK(c.alloc_count == 1);
  CHECK(c.alloc_bytes == 24);
}

namespace {

int g_line_async_work = 0;
int g_line_nested_work = 0;

// Five blocks of 64 bytes allocated and freed on a thread std::async starts, and three of 32
// on a thread that thread starts in turn.
void async_work() {
  std::async(std::launch::async, [] {
    for (int i = 0; i < 5; ++i) {
      g_line_async_work = __LINE__ + 1;
      g_sink = std::malloc(64);
      std::free(g_sink);
    }
    std::thread([] {
      for (int i = 0; i < 3; ++i) {
        g_line_nested_work = __LINE__ + 1;
        g_sink = std::malloc(32);
        std::free(g_sink);
      }
    }).join();
  }).get();
}

const measure::ScopeSite* site_at_line(const std::vector<measure::ScopeSite>& sites, int line) {
  for (const measure::ScopeSite& s : sites) {
    for (const measure::StackFrame& f : s.stack) {
      if (f.line == static_cast<std::uint32_t>(line) && same_file(f.file, this_file())) {
        return &s;
      }
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a scope counts the threads its statement starts when asked to" * doctest::skip(!g_tracing)) {
  async_work();  // the lines are known after one run
  measure::Counts calling = measure::count_allocations(async_work);
  measure::Counts started = measure::count_allocations(async_work, measure::Threads::started);
  REQUIRE(calling.measured());
  REQUIRE(started.measured());
  std::vector<measure::ScopeSite> calling_sites = calling.sites();
  std::vector<measure::ScopeSite> started_sites = started.sites();
  CHECK(site_at_line(calling_sites, g_line_async_work) == nullptr);
  const measure::ScopeSite* work = site_at_line(started_sites, g_line_async_work);
  REQUIRE(work != nullptr);
  CHECK(work->alloc_count == 5);
  CHECK(work->alloc_bytes == 320);
  CHECK(work->free_count == 5);
  const measure::ScopeSite* nested = site_at_line(started_sites, g_line_nested_work);
  REQUIRE(nested != nullptr);
  CHECK(nested->alloc_count == 3);
  CHECK(nested->alloc_bytes == 96);
  CHECK(started.alloc_count >= calling.alloc_count + 8);
  std::optional<std::string> failure = measure::check_limit(started, measure::Limit::alloc_bytes, 100, "async_work()");
  REQUIRE(failure.has_value());
  CHECK(failure->find("5 × 320 B at") != std::string::npos);

  // One such scope at a time per thread; a thread started after the scope ended is not counted.
  measure::Scope outer{"", measure::Threads::started};
  measure::Scope inner{"", measure::Threads::started};
  CHECK(outer.active());
  CHECK_FALSE(inner.active());
  CHECK(inner.end().status == measure::ScopeStatus::too_deep);
  outer.end();
  measure::Counts after = measure::count_allocations([] { std::thread([] { std::free(std::malloc(16)); }).join(); });
  CHECK(site_at_line(after.sites(), g_line_async_work) == nullptr);
}

TEST_CASE("beyond 32 nested scopes a scope says it is too deep; the others still measure" * doctest::skip(!g_tracing)) {
  std::optional<measure::Scope> scopes[33];
  for (auto& scope : scopes) {
    scope.emplace();
  }
  CHECK(scopes[31]->active());
  CHECK_FALSE(scopes[32]->active());
  measure::Counts nested = measure::count_allocations([] { std::free(std::malloc(8)); });
  g_sink = std::malloc(8);
  std::free(g_sink);
  measure::ScopeStats too_deep = scopes[32]->end();
  CHECK(too_deep.status == measure::ScopeStatus::too_deep);
  CHECK(too_deep.alloc_count == 0);
  measure::ScopeStats last = scopes[31]->end();
  CHECK(last.measured());
  CHECK(last.alloc_count == 2);
  for (auto& scope : scopes) {
    scope.reset();
  }
  CHECK(nested.status == measure::ScopeStatus::too_deep);
  CHECK(nested.describe() == "nothing was measured: 32 scopes were already open on the thread");
  CHECK(measure::count_allocations([] { std::free(std::malloc(8)); }).alloc_count == 1);
}

TEST_CASE("nested scopes on two threads at once stay per thread" * doctest::skip(!g_tracing)) {
  std::barrier sync(2);
  struct Result {
    measure::ScopeStats outer, inner;
  };
  Result results[2];
  auto work = [&](int index, std::size_t size) {
    measure::Scope outer{"api-threads"};
    sync.arrive_and_wait();
    void* kept[3];
    for (void*& p : kept) {
      p = std::malloc(size);
    }
    {
      measure::Scope inner;
      for (int round = 0; round < 200; ++round) {
        void* p = std::malloc(size);
        g_sink = p;
        std::free(p);
      }
      results[index].inner = inner.end();
    }
    sync.arrive_and_wait();
    results[index].outer = outer.end();
    for (void* p : kept) {
      std::free(p);
    }
  };
  std::thread a(work, 0, 24);
  std::thread b(work, 1, 72);
  a.join();
  b.join();
  for (int i = 0; i < 2; ++i) {
    std::uint64_t size = i == 0 ? 24 : 72;
    CAPTURE(i);
    CHECK(results[i].inner.alloc_count == 200);
    CHECK(results[i].inner.alloc_bytes == 200 * size);
    CHECK(results[i].inner.free_count == 200);
    CHECK(results[i].inner.peak_bytes == size);
    CHECK(results[i].outer.alloc_count == 203);
    CHECK(results[i].outer.free_count == 200);
    CHECK(results[i].outer.live_bytes == static_cast<std::int64_t>(3 * size));
    CHECK(results[i].outer.peak_bytes == 4 * size);  // reached inside the inner scope
  }
}

TEST_CASE("count_allocations and min_allocations count the calling thread only" * doctest::skip(!g_tracing)) {
  measure::Counts c = measure::count_allocations([] {
    void* p = std::malloc(10);
    void* q = std::malloc(20);
    std::free(p);
    g_sink = std::malloc(30);  // net 50: the peak
    std::free(q);
  });
  std::free(g_sink);
  CHECK(c.alloc_count == 3);
  CHECK(c.alloc_bytes == 60);
  CHECK(c.free_count == 2);
  CHECK(c.live_bytes == 30);
  CHECK(c.peak_bytes == 50);

  int runs = 0;
  measure::Counts best = measure::min_allocations(
      [&] {
        if (runs++ == 0) {
          g_sink = std::malloc(1);  // a first-run cache fill
          std::free(g_sink);
        }
        void* p = std::malloc(8);
        std::free(p);
      },
      4);
  CHECK(runs == 4);
  CHECK(best.alloc_count == 1);
  CHECK(best.alloc_bytes == 8);

  std::thread noise;
  measure::Counts quiet = measure::count_allocations([&] {
    noise = std::thread([] {
      for (int i = 0; i < 1000; ++i) {
        std::free(std::malloc(64));
      }
    });
  });
  noise.join();
  // Creating the thread allocates on this thread (its state); the thread's own 1,000 do not count.
  CHECK(quiet.alloc_count < 10);
}

TEST_CASE("assertion helpers pass on allocation-free code and name the sites otherwise" * doctest::skip(!g_tracing)) {
  int x = 0;
  MEASURE_CHECK_NO_ALLOCATIONS(x += 1);
  MEASURE_CHECK_ALLOCATIONS_AT_MOST(1, std::free(std::malloc(4)));
  MEASURE_CHECK_ALLOCATIONS_AT_MOST_MIN(1, 3, std::free(std::malloc(4)));
  CHECK(x == 1);
  const int line = __LINE__ + 1;
  measure::Counts c = measure::count_allocations([] { std::free(std::malloc(48)); });
  std::string message = measure::describe_excess(c, 0);
  CHECK(message.rfind("expected at most 0 allocations, got 1: ", 0) == 0);
  CHECK(message.find("api_test.cpp:" + std::to_string(line)) != std::string::npos);
  CHECK(message.find("1 × 48 B") != std::string::npos);
}

TEST_CASE("snapshots: statistics by line, comparison, and exact values" * doctest::skip(!g_tracing)) {
  measure::Snapshot before = measure::take_snapshot();
  const int line = __LINE__ + 3;
  void* kept[3];
  for (void*& p : kept) {
    p = std::malloc(64);
  }
  measure::Snapshot after = measure::take_snapshot();
  for (void* p : kept) {
    std::free(p);
  }
  CHECK_FALSE(after.empty());
  std::vector<measure::Statistic> after_stats = after.statistics(measure::By::line);
  const measure::Statistic* row = find_line(after_stats, line);
  REQUIRE(row != nullptr);
  CHECK(row->live_bytes == 192);
  CHECK(row->live_count == 3);
  CHECK(row->alloc_bytes == 192);
  CHECK(row->alloc_count == 3);
  CHECK(row->key.function().find("DOCTEST_ANON") != std::string::npos);
  CHECK(find_line(before.statistics(measure::By::line), line) == nullptr);

  std::vector<measure::StatisticDiff> diffs = after.compare_to(before, measure::By::line);
  REQUIRE_FALSE(diffs.empty());
  CHECK(diffs[0].key.line() == static_cast<std::uint32_t>(line));  // the largest change comes first
  CHECK(diffs[0].live_bytes_diff == 192);
  CHECK(diffs[0].live_count_diff == 3);
  CHECK(diffs[0].alloc_bytes_diff == 192);
  for (std::size_t i = 1; i < diffs.size(); ++i) {
    CHECK(diffs[i].live_bytes_diff == 0);  // the snapshots themselves are never counted
  }
  std::vector<measure::StatisticDiff> back = before.compare_to(after, measure::By::line);
  bool gone = false;
  for (const auto& d : back) {
    if (d.key.line() == static_cast<std::uint32_t>(line)) {
      gone = d.live_bytes == 0 && d.live_bytes_diff == -192;
    }
  }
  CHECK(gone);
  // Statistics are deterministic.
  auto once = after.statistics(measure::By::function);
  auto twice = after.statistics(measure::By::function);
  REQUIRE(once.size() == twice.size());
  for (std::size_t i = 0; i < once.size(); ++i) {
    CHECK(once[i].key == twice[i].key);
  }
}

TEST_CASE("keys: named as reports name them, equal across snapshots, hashable" * doctest::skip(!g_tracing)) {
  void* unnamed = measure_test_nodebug_allocate(77);
  void* via_caller = caller_of_helper(100);
  void* direct = helper_allocation(10);
  measure::Snapshot first = measure::take_snapshot();
  void* heavier = helper_allocation(1000);  // the helper's line now weighs most through another stack
  measure::Snapshot second = measure::take_snapshot();
  std::vector<measure::Statistic> a = first.statistics(measure::By::line);
  std::vector<measure::Statistic> b = second.statistics(measure::By::line);
  std::free(unnamed);
  std::free(via_caller);
  std::free(direct);
  std::free(heavier);

  const measure::Statistic* helper_a = find_line(a, g_line_helper);
  const measure::Statistic* helper_b = find_line(b, g_line_helper);
  REQUIRE(helper_a != nullptr);
  REQUIRE(helper_b != nullptr);
  CHECK(helper_a->key.stack() != helper_b->key.stack());
  CHECK(helper_a->key == helper_b->key);
  CHECK(helper_a->key.hash() == helper_b->key.hash());
  std::unordered_map<measure::Key, std::uint64_t> by_key;
  for (const measure::Statistic& s : a) {
    by_key.emplace(s.key, s.live_bytes);
  }
  CHECK(by_key.at(helper_b->key) == 110);
  CHECK(helper_a->key.to_string().find(":" + std::to_string(g_line_helper) + "  ") != std::string::npos);

  const measure::Statistic* nodebug = nullptr;
  for (const measure::Statistic& s : b) {
    if (s.key.module().find("libapi_nodebug.so") != std::string::npos) {
      nodebug = &s;
    }
  }
  REQUIRE(nodebug != nullptr);
  CHECK(nodebug->live_bytes == 77);
  CHECK(nodebug->key.function().empty());
  CHECK(nodebug->key.file().empty());
  REQUIRE(nodebug->key.offset() != 0);
  char expected[64];
  std::snprintf(expected, sizeof expected, "libapi_nodebug.so+%#llx",
                static_cast<unsigned long long>(nodebug->key.offset()));
  CHECK(nodebug->key.to_string() == expected);

  // The same group under another grouping is another key.
  std::vector<measure::Statistic> by_file = second.statistics(measure::By::file);
  for (const measure::Statistic& s : by_file) {
    CHECK_FALSE(s.key == helper_b->key);
  }
}

TEST_CASE("what the API returns is the caller's memory, attributed to the call that asked for it" *
          doctest::skip(!g_tracing)) {
  measure::Snapshot first = measure::take_snapshot();
  const int line_call = __LINE__ + 1;
  std::vector<measure::Statistic> rows = first.statistics(measure::By::stack);
  measure::Snapshot after = measure::take_snapshot();
  std::vector<measure::Statistic> stats = after.statistics(measure::By::line);
  const measure::Statistic* call = find_line(stats, line_call);
  REQUIRE(call != nullptr);
  CHECK(call->live_count > 0);
  for (const measure::Statistic& s : stats) {
    CAPTURE(s.key.to_string());
    CHECK_FALSE(s.key.stack().empty());
  }
  CHECK_FALSE(rows.empty());
}

TEST_CASE("statistics list live groups unless the history is asked for" * doctest::skip(!g_tracing)) {
  const int line_freed = __LINE__ + 1;
  void* freed = std::malloc(56);
  std::free(freed);
  const int line_kept = __LINE__ + 1;
  void* kept = std::malloc(72);
  measure::Snapshot first = measure::take_snapshot();
  std::free(kept);
  measure::Snapshot second = measure::take_snapshot();

  std::vector<measure::Statistic> live = first.statistics(measure::By::line);
  CHECK(find_line(live, line_freed) == nullptr);
  REQUIRE(find_line(live, line_kept) != nullptr);
  CHECK(find_line(live, line_kept)->live_bytes == 72);
  for (const measure::Statistic& s : live) {
    CHECK(s.live_count > 0);
  }
  std::vector<measure::Statistic> all = first.statistics(measure::By::line, false, measure::Rows::all);
  const measure::Statistic* history = find_line(all, line_freed);
  REQUIRE(history != nullptr);
  CHECK(history->live_count == 0);
  CHECK(history->alloc_count == 1);
  CHECK(history->alloc_bytes == 56);

  // A group live in the older snapshot only stays in the comparison; one live in neither goes.
  std::vector<measure::StatisticDiff> diffs = second.compare_to(first, measure::By::line);
  bool kept_gone = false;
  for (const measure::StatisticDiff& d : diffs) {
    CHECK(d.key.line() != static_cast<std::uint32_t>(line_freed));
    if (d.key.line() == static_cast<std::uint32_t>(line_kept)) {
      kept_gone = d.live_bytes == 0 && d.live_bytes_diff == -72 && d.alloc_bytes_diff == 0;
    }
  }
  CHECK(kept_gone);
  bool freed_listed = false;
  for (const measure::StatisticDiff& d : second.compare_to(first, measure::By::line, false, measure::Rows::all)) {
    freed_listed = freed_listed || d.key.line() == static_cast<std::uint32_t>(line_freed);
  }
  CHECK(freed_listed);
}

TEST_CASE("snapshots: by stack, cumulative with recursion, filters" * doctest::skip(!g_tracing)) {
  void* r = recurse(3);
  void* h = caller_of_helper(96);
  measure::Snapshot snap = measure::take_snapshot();
  std::free(r);
  std::free(h);

  bool found_stack = false;
  for (const auto& s : snap.statistics(measure::By::stack)) {
    if (s.key.line() == static_cast<std::uint32_t>(g_line_recursive) && same_file(s.key.file(), this_file())) {
      found_stack = true;
      CHECK(s.live_bytes == 40);
      int depth = 0;
      for (const auto& f : s.key.stack()) {
        depth += f.function.find("recurse") != std::string::npos ? 1 : 0;
      }
      CHECK(depth == 4);  // the whole stack: recurse(3) .. recurse(0)
    }
  }
  CHECK(found_stack);

  bool found_cumulative = false;
  for (const auto& s : snap.statistics(measure::By::function, true)) {
    if (s.key.function().find("recurse") != std::string::npos) {
      found_cumulative = true;
      CHECK(s.live_bytes == 40);  // four frames of the same function: counted once
      CHECK(s.alloc_count == 1);
    }
  }
  CHECK(found_cumulative);

  using measure::Filter;
  using measure::FilterField;
  measure::Snapshot mine = snap.filter({Filter::include("*api_test.cpp", FilterField::file)});
  for (const auto& s : mine.statistics(measure::By::line)) {
    CHECK(same_file(s.key.file(), this_file()));
  }
  // The helper's allocation is attributed to helper_allocation: an innermost-frame filter on
  // its caller misses it, an all-frames filter finds it.
  auto has_helper = [&](const measure::Snapshot& s) {
    return find_line(s.statistics(measure::By::line), g_line_helper) != nullptr;
  };
  CHECK(has_helper(snap));
  CHECK_FALSE(has_helper(snap.filter({Filter::include("*caller_of_helper*", FilterField::function)})));
  CHECK(has_helper(snap.filter({Filter::include("*caller_of_helper*", FilterField::function, true)})));
  CHECK_FALSE(has_helper(snap.filter({Filter::exclude("*helper_allocation*", FilterField::function)})));
  CHECK(mine.traced_memory().current <= snap.traced_memory().current);
}

TEST_CASE("snapshots: dump and load keep every statistic" * doctest::skip(!g_tracing)) {
  void* p = std::malloc(333);
  measure::Snapshot snap = measure::take_snapshot();
  std::free(p);
  std::string path = std::string(MEASURE_TEST_TMP) + "/api-snapshot." + std::to_string(::getpid()) + ".msr";
  std::filesystem::create_directories(MEASURE_TEST_TMP);
  snap.dump(path);
  measure::Snapshot loaded = measure::Snapshot::load(path);
  auto a = snap.statistics(measure::By::line);
  auto b = loaded.statistics(measure::By::line);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].key == b[i].key);
    CHECK(a[i].live_bytes == b[i].live_bytes);
  }
  CHECK_THROWS_AS(measure::Snapshot::load(path + ".missing"), std::runtime_error);
  CHECK_THROWS_AS(snap.dump("/nonexistent-dir/x.msr"), std::runtime_error);
  std::filesystem::remove(path);
}

namespace {

__attribute__((noinline)) void baseline_work(int blocks) {
  for (int i = 0; i < blocks; ++i) {
    g_sink = std::malloc(40);
    std::free(g_sink);
  }
}

std::string read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  std::string text;
  for (int c; f != nullptr && (c = std::fgetc(f)) != EOF;) {
    text += static_cast<char>(c);
  }
  if (f != nullptr) {
    std::fclose(f);
  }
  return text;
}

}  // namespace

TEST_CASE("baselines: written on the first run, compared after, rewritten on request" * doctest::skip(!g_tracing)) {
  // Named by process: this test also runs under `measure run`, at the same time.
  const std::string path = std::string(MEASURE_TEST_TMP) + "/api." + std::to_string(::getpid()) + ".baseline";
  std::filesystem::create_directories(MEASURE_TEST_TMP);
  std::remove(path.c_str());
  measure::Counts three = measure::count_allocations([] { baseline_work(3); });
  measure::Counts five = measure::count_allocations([] { baseline_work(5); });
  measure::Counts two = measure::count_allocations([] { baseline_work(2); });

  REQUIRE_FALSE(measure::check_baseline(three, path).has_value());  // no file: written
  CHECK(read_file(path) ==
        "# measure baseline: one statement's allocations per function (count, bytes, function).\n"
        "# Compared by the test that wrote it; rewritten when MEASURE_UPDATE_BASELINES=1.\n"
        "3\t120\t(anonymous namespace)::baseline_work  (api_test.cpp)\n"
        "3\t120\ttotal\n");
  CHECK_FALSE(measure::check_baseline(three, path).has_value());
  CHECK_FALSE(measure::check_baseline(two, path).has_value());  // fewer allocations pass

  std::optional<std::string> failure = measure::check_baseline(five, path, 0.1, "baseline_work(5)");
  REQUIRE(failure.has_value());
  CHECK(*failure == "baseline_work(5): allocations above the baseline " + path +
                        " (tolerance 10%):\n"
                        "  (anonymous namespace)::baseline_work  (api_test.cpp): 5 allocations (200 B), baseline 3 "
                        "allocations (120 B)\n"
                        "  total: 5 allocations (200 B), baseline 3 allocations (120 B)\n"
                        "  (when the change is intended, run again with MEASURE_UPDATE_BASELINES=1 to rewrite it)");
  CHECK_FALSE(measure::check_baseline(five, path, 1.0).has_value());  // within 100%

  ::setenv("MEASURE_UPDATE_BASELINES", "1", 1);
  CHECK_FALSE(measure::check_baseline(five, path).has_value());
  ::unsetenv("MEASURE_UPDATE_BASELINES");
  CHECK(read_file(path).find("5\t200\ttotal\n") != std::string::npos);
  CHECK_FALSE(measure::check_baseline(five, path).has_value());

  // Nothing measured never writes or passes; a file that is not a baseline is said to be one.
  std::optional<std::string> unmeasured = measure::check_baseline(measure::Counts{}, path);
  REQUIRE(unmeasured.has_value());
  CHECK(unmeasured->find("cannot compare with the baseline") != std::string::npos);
  CHECK(read_file(path).find("5\t200\ttotal\n") != std::string::npos);
  std::FILE* f = std::fopen(path.c_str(), "w");
  std::fputs("not a baseline\n", f);
  std::fclose(f);
  std::optional<std::string> garbage = measure::check_baseline(three, path);
  REQUIRE(garbage.has_value());
  CHECK(*garbage == path + ":1: not a baseline line (count, bytes, function, separated by tabs)");
  std::remove(path.c_str());
}

TEST_CASE("settings say the mode and depth in effect" * doctest::skip(!g_tracing)) {
  const char* env = std::getenv("MEASURE_MODE");
  std::string_view expected = env != nullptr ? env : "exact";
  measure::Settings s = measure::settings();
  CHECK(s.mode == expected);
  CHECK(s.depth == (expected == "counters" ? 0U : 64U));
  CHECK(s.sample_interval == (expected == "sampled" ? 512U * 1024 : 0U));
}

TEST_CASE("allocation_site names the stack of a live block" * doctest::skip(!g_tracing)) {
  // Counters mode records no stack, sampled mode only for sampled blocks: the site then has
  // the block's size and an empty stack (api_test_light runs this case in counters mode).
  const char* mode = std::getenv("MEASURE_MODE");
  bool stacks = mode == nullptr || std::string(mode) == "exact";
  const int line = __LINE__ + 1;
  void* p = std::malloc(123);
  std::optional<measure::AllocationSite> site = measure::allocation_site(p);
  REQUIRE(site.has_value());
  CHECK(site->size == 123);
  CHECK(site->stack.empty() == !stacks);
  // docs/api.md's example, as written there.
  if (auto shown = measure::allocation_site(p); shown && !shown->stack.empty()) {
    CHECK(shown->stack[0].to_string().find("api_test.cpp:" + std::to_string(line)) != std::string::npos);
  }
  std::free(p);
  if (stacks) {
    REQUIRE_FALSE(site->stack.empty());
    CHECK(site->stack[0].line == static_cast<std::uint32_t>(line));
    CHECK(same_file(site->stack[0].file, this_file()));
  }
  CHECK_FALSE(measure::allocation_site(&line).has_value());  // not a heap block
}

TEST_CASE("custom pools report their blocks" * doctest::skip(!g_tracing)) {
  alignas(16) static char pool[4096];
  measure::Snapshot before = measure::take_snapshot();
  const int line = __LINE__ + 1;
  int first = measure_report_alloc(pool, 256);
  int second = measure_report_alloc(pool + 256, 256);
  int again = measure_report_alloc(pool, 256);  // still live: not counted twice
  measure::Snapshot during = measure::take_snapshot();
  int freed_first = measure_report_free(pool);
  int freed_second = measure_report_free(pool + 256);
  int unknown = measure_report_free(pool + 512);  // never reported
  CHECK(first == 1);
  CHECK(second == 1);
  CHECK(again == -1);
  CHECK(freed_first == 1);
  CHECK(freed_second == 1);
  CHECK(unknown == 0);
  std::vector<measure::Statistic> during_stats = during.statistics(measure::By::line);
  const measure::Statistic* row = find_line(during_stats, line);
  REQUIRE(row != nullptr);
  CHECK(row->live_bytes == 256);
  CHECK(during.traced_memory().current - before.traced_memory().current == 512);
  // Once freed, the address may be handed out again.
  CHECK(measure_report_alloc(pool, 64) == 1);
  CHECK(measure_report_free(pool) == 1);
}

TEST_CASE("off mode: every call works and reports that nothing is traced" *
          doctest::skip(g_tracing || std::getenv("MEASURE_MODE") == nullptr)) {
  CHECK_FALSE(measure::is_tracing());
  CHECK(measure::settings().mode == "off");
  CHECK(measure::traced_memory().current == 0);
  CHECK(measure::thread_traced_memory().peak == 0);
  CHECK(measure::totals().alloc_count == 0);
  CHECK(measure::thread_totals().alloc_bytes == 0);
  measure::reset_peak();
  measure::Scope s{"off"};
  void* p = std::malloc(10);
  std::free(p);
  CHECK_FALSE(s.active());
  CHECK(s.end().alloc_count == 0);
  CHECK(s.end().status == measure::ScopeStatus::not_tracing);
  measure::Counts c = measure::count_allocations([] { std::free(std::malloc(1)); });
  CHECK_FALSE(c.measured());
  CHECK(c.alloc_count == 0);
  CHECK(c.describe().find("allocations are not traced") == 0);
  CHECK_FALSE(measure::min_allocations([] { std::free(std::malloc(1)); }).measured());
  // The assertions fail rather than pass by counting nothing.
  CHECK(measure::describe_excess(c, 0) ==
        "expected at most 0 allocations, but allocations are not traced (MEASURE_MODE=off, or the program does not "
        "link measure)");
  measure::Snapshot snap = measure::take_snapshot();
  CHECK(snap.empty());
  CHECK(snap.statistics(measure::By::line).empty());
  CHECK(snap.compare_to(snap, measure::By::line).empty());
  CHECK_FALSE(measure::allocation_site(p).has_value());
  CHECK_FALSE(measure::write_capture(std::string(MEASURE_TEST_TMP) + "/off." + std::to_string(::getpid()) + ".msr"));
  CHECK(measure_report_alloc(&p, 8) == 0);
  CHECK(measure_scope_begin("c") == 0);
  CHECK(measure_scope_end(nullptr) == 0);
}
