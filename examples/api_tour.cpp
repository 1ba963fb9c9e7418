// docs/api.md's C++ examples, each exactly as the page shows it, in one program: the test suite
// builds it with the page's pkg-config line and runs it (tests/install/install_test.sh), and
// checks that every example of the page is here (tests/docs/api_examples_test.cpp).
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <measure/measure.hpp>

namespace {

const std::string text = "the tokenizer reuses its token buffer from line to line";
auto cache = std::make_unique<std::map<std::string, int>>();

std::vector<std::string> parse(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string word; in >> word;) {
    words.push_back(word);
  }
  return words;
}

void run_phase_two() {
  std::vector<std::string> rows(64, std::string(100, 'x'));
  std::printf("phase two made %zu rows\n", rows.size());
}

// The examples are not indented, so that each is the page's text exactly.
// clang-format off

void state_and_traced_memory() {
measure::reset_peak();
run_phase_two();
std::printf("phase two peaked at %llu bytes\n", (unsigned long long)measure::traced_memory().peak);
}

void snapshots() {
measure::Snapshot before = measure::take_snapshot();
std::vector<std::string> words = parse(text);
for (const auto& w : words) ++(*cache)[w];
measure::Snapshot after = measure::take_snapshot();
for (const auto& d : after.compare_to(before, measure::By::line)) {
  if (d.live_bytes_diff == 0) break;
  std::printf("%-40s live %+lld B (%+lld blocks)\n", d.key.to_string().c_str(),
              (long long)d.live_bytes_diff, (long long)d.live_count_diff);
}
}

std::size_t filters_and_saving(const measure::Snapshot& snap) {
auto mine = snap.filter({measure::Filter::include("src/*"),
                         measure::Filter::exclude("*test*", measure::FilterField::function, true)});
snap.dump("before.msr");                        // then: measure report before.msr --by function
auto again = measure::Snapshot::load("before.msr");
return mine.size() + again.size();
}

void scopes() {
{
  measure::Scope scope{"parse"};
  auto words = parse(text);
  std::puts(scope.end().describe(3).c_str());
}
}

void blocks(const void* suspicious) {
if (auto site = measure::allocation_site(suspicious); site && !site->stack.empty()) {
  std::printf("%llu bytes from %s\n", (unsigned long long)site->size, site->stack[0].to_string().c_str());
}
}

// clang-format on

}  // namespace

int main() {
  if (!measure::is_tracing()) {
    std::puts("not tracing");
    return 1;
  }
  state_and_traced_memory();
  snapshots();
  scopes();
  std::printf("filtered and reloaded: %zu call stacks\n", filters_and_saving(measure::take_snapshot()));
  auto suspicious = std::make_unique<char[]>(100);
  blocks(suspicious.get());
  return 0;
}
