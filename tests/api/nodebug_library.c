/* A library with neither debug information nor a symbol table (built -g0, linked -s): only its
 * exported entry point has a name (in .dynsym), and the function that allocates has none, so
 * reports can name that call site only by module and offset. */
#include <stdlib.h>

static __attribute__((noinline)) void* unnamed_allocation(size_t n) {
  void* p = malloc(n);
  __asm__ volatile("" ::: "memory");
  return p;
}

__attribute__((visibility("default"))) void* measure_test_nodebug_allocate(size_t n) {
  void* p = unnamed_allocation(n);
  __asm__ volatile("" ::: "memory");
  return p;
}
