/* The flame graph the browser test clicks through: 8 MiB in a small, known tree.
 *   main -> parse -> tokenize     2 MiB
 *               \-> build_tree    4 MiB (4 blocks)
 *        -> render                2 MiB
 * A C program, so no C++ runtime adds allocations of its own. */
#include <stdlib.h>

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

int main(void) {
  parse();
  render();
  for (int i = 0; i < g_count; ++i) {
    free(g_blocks[i]);
  }
  return 0;
}
