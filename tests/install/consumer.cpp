// Uses the installed API and checks exactly known allocations. Prints one line:
// "tracing <n> <bytes>" or "not tracing"; exits non-zero when something is off.
#include <cstdio>
#include <cstdlib>

#include <measure/measure.hpp>

int main() {
  if (!measure::is_tracing()) {
    measure::Scope s{"consumer"};
    std::free(std::malloc(10));
    bool quiet = s.end().alloc_count == 0 && measure::take_snapshot().empty();
    std::puts(quiet ? "not tracing" : "inconsistent");
    return quiet ? 0 : 1;
  }
  measure::Counts c = measure::count_allocations([] {
    void* a = std::malloc(100);
    void* b = std::malloc(28);
    std::free(a);
    std::free(b);
  });
  std::printf("tracing %llu %llu\n", static_cast<unsigned long long>(c.alloc_count),
              static_cast<unsigned long long>(c.alloc_bytes));
  return c.alloc_count == 2 && c.alloc_bytes == 128 ? 0 : 1;
}
