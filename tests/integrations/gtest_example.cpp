// docs/integrations.md's GoogleTest example; the test suite builds and runs it as it is shown.
#include <atomic>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <measure/gtest.hpp>

// Splits "a,b,c" into views of the line, reusing the caller's vector.
void split(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  for (std::size_t start = 0;;) {
    std::size_t comma = line.find(',', start);
    fields.push_back(line.substr(start, comma - start));
    if (comma == std::string_view::npos) {
      return;
    }
    start = comma + 1;
  }
}

TEST(Split, ReusesItsVectorFromLineToLine) {
  std::vector<std::string_view> fields;
  split("the,first,line,sizes,the,vector", fields);
  MEASURE_EXPECT_NO_ALLOCATIONS(split("id,name,email", fields));
  EXPECT_EQ(fields.size(), 3u);
}

TEST(Split, CopyingTheFieldsCostsOneBlockPerLongField) {
  std::vector<std::string_view> fields;
  std::vector<std::string> copies;
  copies.reserve(8);
  split("short,a field longer than the small-string buffer", fields);
  MEASURE_EXPECT_ALLOCATIONS_AT_MOST(1, copies.assign(fields.begin(), fields.end()));
}

// Harness threads (a watchdog, a logger) may allocate while a test runs: only the test's own
// thread is counted, so they never make it fail.
TEST(Split, ALoggerThreadAllocatingMeanwhileDoesNotCount) {
  ASSERT_TRUE(measure::is_tracing());  // linking measure turns tracing on
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
  std::vector<std::string_view> fields;
  split("the,first,line,sizes,the,vector", fields);
  MEASURE_EXPECT_NO_ALLOCATIONS({
    int seen = lines;
    split("id,name,email", fields);
    while (lines < seen + 100) {  // the logger allocates 100 times inside the statement
    }
  });
  stop = true;
  logger.join();
}
