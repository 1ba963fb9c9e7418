/* docs/api.md's C examples, each exactly as the page shows it, in one program: the test suite
 * builds it with the page's pkg-config line and runs it (tests/install/install_test.sh), and
 * checks that every example of the page is here (tests/docs/api_examples_test.cpp). */
#include <stdio.h>
#include <stdlib.h>

#include <measure/measure.h>

/* A bump pool: pieces of one chunk from malloc. */
struct pool {
  char* chunk;
  size_t used;
  size_t size;
};

static void* bump(struct pool* p, size_t n) {
  void* block = p->chunk + p->used;
  p->used += (n + 15) & ~(size_t)15;
  return block;
}

static void give_back(struct pool* p, void* block) {
  (void)p;
  (void)block; /* a bump pool reuses nothing until it is reset */
}

static void load_config(const char* path) {
  char* copy = malloc(256);
  snprintf(copy, 256, "loaded %s", path);
  puts(copy);
  free(copy);
}

/* The examples are not indented, so that each is the page's text exactly. */
/* clang-format off */

void* pool_alloc(struct pool* p, size_t n) {
  void* block = bump(p, n);
  measure_report_alloc(block, n);
  return block;
}
void pool_free(struct pool* p, void* block) {
  measure_report_free(block);
  give_back(p, block);
}

static void scope_example(const char* path) {
measure_scope_totals_t t;
measure_scope_begin("load-config");
load_config(path);
measure_scope_end(&t);
printf("load-config: %llu allocations, peak %llu bytes\n", (unsigned long long)t.alloc_count,
       (unsigned long long)t.peak_bytes);
}

/* clang-format on */

int main(void) {
  struct pool p = {malloc(4096), 0, 4096};
  void* a = pool_alloc(&p, 100);
  scope_example("app.conf");
  printf("pool: %llu bytes live\n", (unsigned long long)measure_get_traced_memory().current);
  pool_free(&p, a);
  free(p.chunk);
  return measure_is_tracing() ? 0 : 1;
}
