// A program with exactly known allocations, recorded with the real heaptrack by
// heaptrack_import_test. One function per call site, so heaptrack_print's folded stacks
// (which carry no line numbers) name each site by its innermost function. It prints nothing:
// stdio buffers would add allocations of their own. With an argument N, churn() runs N times
// as often (a second recording for measure diff).
#include <cstdlib>

namespace {

void* g_kept[10];

}  // namespace

// 10 blocks of 100 bytes, the first 5 freed: 5 leaked. heaptrack counts the first free as
// temporary (it follows an allocation of the same size and stack); measure does not (the
// freed block is not the one allocated last).
__attribute__((noinline)) void keep_blocks() {
  for (void*& block : g_kept) {
    block = std::malloc(100);  // @keep
  }
  for (int i = 0; i < 5; ++i) {
    std::free(g_kept[i]);
  }
}

// 3 x 40 bytes, each freed at once: 3 temporary allocations for both tools.
__attribute__((noinline)) void churn(int rounds) {
  for (int i = 0; i < 3 * rounds; ++i) {
    void* p = std::malloc(40);  // @churn
    std::free(p);
  }
}

// calloc(4, 25) is 100 bytes, replaced by realloc's 200-byte block, then freed.
__attribute__((noinline)) void* zeroed() {
  return std::calloc(4, 25);  // @zeroed
}
__attribute__((noinline)) void* grow(void* p) {
  return std::realloc(p, 200);  // @grow
}

// 3 x 1000 bytes live at once: the global peak (with keep_blocks' 500 leaked bytes).
__attribute__((noinline)) void peak_blocks() {
  char* a = new char[1000];  // @peak
  char* b = new char[1000];  // @peak2
  char* c = new char[1000];  // @peak3
  delete[] a;
  delete[] b;
  delete[] c;
}

// An allocation inside an inlined function: heaptrack records both frames of the address.
__attribute__((always_inline)) inline int* make_int(int value) {
  return new int(value);  // @make_int
}
__attribute__((noinline)) void inlined_caller() {
  int* p = make_int(7);  // @inlined_call
  delete p;
}

int main(int argc, char** argv) {
  keep_blocks();
  churn(argc > 1 ? std::atoi(argv[1]) : 1);
  std::free(grow(zeroed()));
  peak_blocks();
  inlined_caller();
  return 0;
}
