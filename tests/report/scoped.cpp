// Fixture: named scopes with exactly known costs, for `measure report --by scope`,
// `--scope NAME` and `measure diff --by scope`.
//   parse  entered E times (5, or the second argument); each entry makes N temporaries of 64
//          bytes (N = 12, or the first argument) and keeps one block of 10 bytes.
//   render entered 3 times; each entry makes one vector of 1000 ints (4000 bytes), freed.
// Allocations outside every scope: one block of 100 bytes at start.
#include <cstdlib>
#include <string>
#include <vector>

#include <measure/measure.hpp>

namespace {

void* volatile g_sink;

void parse(int temporaries) {
  measure::Scope scope{"parse"};
  for (int i = 0; i < temporaries; ++i) {
    void* p = std::malloc(64);  // @parse-temporary
    g_sink = p;
    std::free(p);
  }
  g_sink = std::malloc(10);  // @parse-kept
}

void render() {
  measure::Scope scope{"render"};
  std::vector<int> v(1000);  // @render-vector
  g_sink = v.data();
}

}  // namespace

int main(int argc, char** argv) {
  g_sink = std::malloc(100);
  int temporaries = argc > 1 ? std::atoi(argv[1]) : 12;
  int entries = argc > 2 ? std::atoi(argv[2]) : 5;
  for (int i = 0; i < entries; ++i) {
    parse(temporaries);
  }
  for (int i = 0; i < 3; ++i) {
    render();
  }
  return 0;
}
