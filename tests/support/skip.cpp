#include "support/skip.h"

#include <cstdio>
#include <set>
#include <vector>

#include <doctest/doctest.h>

namespace measure::test {
namespace {

struct Skip {
  std::string test_case;
  std::string reason;
};

struct Counts {
  unsigned started = 0;    // test cases that ran
  unsigned decorated = 0;  // test cases skipped by a doctest::skip decorator
  unsigned passing_filters = 0;
  const doctest::TestCaseData* current = nullptr;
  std::set<const doctest::TestCaseData*> skipped_cases;
  std::vector<Skip> skips;
};

Counts& counts() {
  static Counts c;
  return c;
}

// Follows the run: which test case is current, how many ran, how many a decorator skipped.
class SkipListener : public doctest::IReporter {
 public:
  explicit SkipListener(const doctest::ContextOptions&) {}

  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    counts().passing_filters = stats.numTestCasesPassingFilters;
  }
  void test_case_start(const doctest::TestCaseData& data) override {
    ++counts().started;
    counts().current = &data;
  }
  void test_case_reenter(const doctest::TestCaseData& data) override { counts().current = &data; }
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData& data) override {
    // Also called for cases the filters leave out; only a decorator's skip counts here.
    if (data.m_skip) {
      ++counts().decorated;
    }
  }
};

REGISTER_LISTENER("measure_skips", 1, SkipListener);

}  // namespace

void skip_test_case(const std::string& reason, const char* file, int line) {
  ADD_MESSAGE_AT(file, line, "skipped: " << reason);
  Counts& c = counts();
  c.skipped_cases.insert(c.current);
  c.skips.push_back({c.current != nullptr ? c.current->m_name : "", reason});
}

int exit_status(int doctest_status) {
  const Counts& c = counts();
  for (const Skip& s : c.skips) {
    std::printf("[measure] skipped test case \"%s\": %s\n", s.test_case.c_str(), s.reason.c_str());
  }
  if (doctest_status != 0) {
    return doctest_status;
  }
  if (c.started == 0 && c.decorated == 0 && c.passing_filters == 0) {
    std::printf("[measure] no test case matched the filters\n");
    return 1;
  }
  if (c.started == c.skipped_cases.size()) {
    std::printf("[measure] every test case was skipped\n");
    return skipped_exit_status;
  }
  return 0;
}

}  // namespace measure::test
