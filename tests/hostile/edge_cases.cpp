// The allocation functions' edge cases, with their results and errno printed, so a run under
// measure can be compared with a native run line by line. Also frees one block the runtime
// never saw (allocated with __libc_malloc): it must be counted as unmatched, never fatal.
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <new>

extern "C" void* __libc_malloc(size_t);

void* volatile sink;

static void show(const char* what, const void* p) {
  printf("%-40s %s errno=%d\n", what, p != nullptr ? "block" : "null", errno);
  errno = 0;
}

static void show_rc(const char* what, int rc) {
  printf("%-40s rc=%d errno=%d\n", what, rc, errno);
  errno = 0;
}

#pragma GCC diagnostic ignored "-Walloc-size-larger-than="  // the huge requests are the point

// A new_handler that gives up on its third call: operator new must call it after each failed
// attempt, and throw bad_alloc (or return null, nothrow) once it is gone.
static int g_handler_calls = 0;
static void give_up_on_third_call() {
  if (++g_handler_calls == 3) {
    std::set_new_handler(nullptr);
  }
}

int main() {
  errno = 0;
  void* p = realloc(nullptr, 16);
  show("realloc(NULL, 16)", p);
  p = realloc(p, 0);
  show("realloc(p, 0)", p);
  free(nullptr);
  show("free(NULL)", nullptr);
  void* zero = malloc(0);
  show("malloc(0)", zero);
  free(zero);
  show("calloc(SIZE_MAX / 2, 4)", calloc(SIZE_MAX / 2, 4));
  void* q = malloc(8);
  void* r = reallocarray(q, SIZE_MAX / 2, 4);
  show("reallocarray(q, SIZE_MAX / 2, 4)", r);
  free(q);
  show("malloc(SIZE_MAX)", malloc(SIZE_MAX));
  show("malloc(1ULL << 62)", malloc(1ULL << 62));
  void* a = nullptr;
  show_rc("posix_memalign(&a, 3, 16)", posix_memalign(&a, 3, 16));
  show_rc("posix_memalign(&a, 1 << 20, 16)", posix_memalign(&a, 1 << 20, 16));
  free(a);
  void* b = aligned_alloc(3, 16);
  show("aligned_alloc(3, 16)", b);
  free(b);
  void* m = memalign(24, 16);
  show("memalign(24, 16)", m);
  free(m);
  void* v = valloc(0);
  show("valloc(0)", v);
  free(v);
  void* pv = pvalloc(0);
  show("pvalloc(0)", pv);
  free(pv);
  errno = 1234;  // must survive a successful allocation unchanged
  void* keep = malloc(32);
  show("malloc(32) with errno preset", keep);
  free(keep);
  void* huge = operator new(SIZE_MAX / 4, std::nothrow);
  show("operator new(SIZE_MAX / 4, nothrow)", huge);
  try {
    sink = operator new[](SIZE_MAX / 4);
    show("operator new[](SIZE_MAX / 4)", sink);
  } catch (const std::bad_alloc&) {
    show("operator new[](SIZE_MAX / 4) threw bad_alloc", nullptr);
  }
  std::set_new_handler(give_up_on_third_call);
  try {
    sink = operator new (SIZE_MAX / 4, std::align_val_t{64});
    show("aligned operator new(SIZE_MAX / 4)", sink);
  } catch (const std::bad_alloc&) {
    printf("aligned operator new(SIZE_MAX / 4) threw bad_alloc after %d new_handler calls\n", g_handler_calls);
  }
  g_handler_calls = 0;
  std::set_new_handler(give_up_on_third_call);
  sink = operator new[](SIZE_MAX / 4, std::nothrow);
  printf("operator new[](SIZE_MAX / 4, nothrow) %s after %d new_handler calls\n", sink != nullptr ? "block" : "null",
         g_handler_calls);
  void* foreign = __libc_malloc(48);  // the runtime never sees this allocation
  free(foreign);
  show("free of a block measure never saw", foreign);
  return 0;
}
