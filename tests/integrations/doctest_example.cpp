// docs/integrations.md's doctest example; the test suite builds and runs it as it is shown.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <measure/doctest.hpp>

// Counts words; the map allocates one node per new word and nothing for words it has seen.
struct WordCounter {
  std::map<std::string, int, std::less<>> counts;
  void add(std::string_view word) {
    if (auto it = counts.find(word); it != counts.end()) {
      ++it->second;
    } else {
      counts.emplace(word, 1);
    }
  }
};

TEST_CASE("counting a word seen before allocates nothing") {
  WordCounter counter;
  counter.add("allocation");
  MEASURE_CHECK_NO_ALLOCATIONS(counter.add("allocation"));
  CHECK(counter.counts["allocation"] == 2);
}

TEST_CASE("a new word costs one map node (and its string, when it is long)") {
  WordCounter counter;
  MEASURE_CHECK_ALLOCATIONS_AT_MOST(1, counter.add("short"));
  MEASURE_REQUIRE_ALLOCATIONS_AT_MOST(2, counter.add("a word longer than the small-string buffer"));
}

// Harness threads (a watchdog, a logger) may allocate while a test runs: only the test's own
// thread is counted, so they never make it fail.
TEST_CASE("a logger thread allocating meanwhile does not count") {
  REQUIRE(measure::is_tracing());  // linking measure turns tracing on
  std::atomic<bool> stop{false};
  std::atomic<int> lines{0};
  std::thread logger([&] {
    std::vector<std::string> log;
    while (!stop) {
      log.emplace_back(100, 'x');  // 100 characters: always a heap block
      if (log.size() == 1000) {
        log.clear();
      }
      lines++;
    }
  });
  WordCounter counter;
  counter.add("allocation");
  MEASURE_CHECK_NO_ALLOCATIONS({
    int seen = lines;
    counter.add("allocation");
    while (lines < seen + 100) {  // the logger allocates 100 times inside the statement
    }
  });
  stop = true;
  logger.join();
}
