/* A flame graph with frames too narrow to draw beside wide ones, for the html page's first
 * view (drawn from the frames wide enough, and their children, before the page has read the
 * rest): 8 MiB in two wide frames, with 16-byte frames before, between and after them in
 * label order, and 16 bytes at the end of each of 40 chains of 1 to 40 calls.
 * A C program, so no C++ runtime adds allocations of its own. */
#include <stdlib.h>

static void* g_keep[64];
static int g_count;

__attribute__((noinline)) static void keep(size_t size) {
  g_keep[g_count++] = malloc(size);
}
__attribute__((noinline)) static void a_narrow(void) {
  keep(16);
}
__attribute__((noinline)) static void b_wide(void) {
  keep(4 << 20);
}
__attribute__((noinline)) static void c_narrow(void) {
  keep(16);
}
__attribute__((noinline)) static void d_wide(void) {
  keep(4 << 20);
}
__attribute__((noinline)) static void e_chain(int depth) {
  if (depth > 0) {
    e_chain(depth - 1);
    __asm__ volatile("" ::: "memory");  // not a tail call: each level is a frame
  } else {
    keep(16);
  }
}

int main(void) {
  a_narrow();
  b_wide();
  c_narrow();
  d_wide();
  for (int depth = 1; depth <= 40; ++depth) {
    e_chain(depth);
  }
  for (int i = 0; i < g_count; ++i) {
    free(g_keep[i]);
  }
  return 0;
}
