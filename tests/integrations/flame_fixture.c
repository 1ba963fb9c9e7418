/* The flame graph the browser test clicks through: 8 MiB in a small, known tree.
 *   main -> parse -> tokenize     2 MiB
 *               \-> build_tree    4 MiB (4 blocks)
 *        -> render                2 MiB
 * A C program, so no C++ runtime adds allocations of its own.
 * Given a number of milliseconds, it pauses that long after parse and again after render
 * (before freeing everything), so the three phases fall in different intervals of time. */
#include <stdlib.h>
#include <time.h>

static void* g_blocks[8];
static int g_count;

__attribute__((noinline)) static void keep(size_t size) {
  g_blocks[g_count++] = malloc(size);
}
__attribute__((noinline)) static void tokenize(void) {
  keep(2 << 20);
}
__attribute__((noinline)) static void build_tree(void) {
  for (int i = 0; i < 4; ++i) {
    keep(1 << 20);
  }
}
__attribute__((noinline)) static void parse(void) {
  tokenize();
  build_tree();
}
__attribute__((noinline)) static void render(void) {
  keep(2 << 20);
}

static void pause_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  while (ms > 0 && nanosleep(&t, &t) != 0) {
  }
}

int main(int argc, char** argv) {
  long pause = argc > 1 ? atol(argv[1]) : 0;
  parse();
  pause_ms(pause);
  render();
  pause_ms(pause);
  for (int i = 0; i < g_count; ++i) {
    free(g_blocks[i]);
  }
  return 0;
}
