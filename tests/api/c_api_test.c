/* The C API from C: scopes, traced memory and custom pools against known allocations, and a
 * capture written on request. Prints what failed and exits 1; exits 0 when all holds.
 * Usage: c_api_test CAPTURE_PATH */
#include <stdio.h>
#include <stdlib.h>

#include <measure/measure.h>

static int failures = 0;
#define EXPECT(cond)                                                   \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "c_api_test:%d: failed: %s\n", __LINE__, #cond); \
      ++failures;                                                      \
    }                                                                  \
  } while (0)

void* volatile sink;

int main(int argc, char** argv) {
  if (argc != 2) {
    return 2;
  }
  EXPECT(measure_is_tracing() == 1);
  measure_traced_memory_t before = measure_get_traced_memory();

  measure_scope_totals_t totals;
  EXPECT(measure_scope_begin("c-scope") == 1);
  void* a = malloc(100);
  void* b = calloc(10, 10);
  free(a);
  EXPECT(measure_scope_end(&totals) == 1);
  EXPECT(totals.alloc_count == 2 && totals.alloc_bytes == 200);
  EXPECT(totals.free_count == 1 && totals.freed_bytes == 100);
  EXPECT(totals.live_bytes == 100 && totals.live_count == 1 && totals.peak_bytes == 200);
  EXPECT(measure_scope_end(&totals) == 0); /* nothing open */

  measure_traced_memory_t mid = measure_get_traced_memory();
  EXPECT(mid.current - before.current == 100);
  measure_thread_memory_t mine = measure_get_thread_traced_memory();
  measure_reset_thread_peak();
  EXPECT(measure_get_thread_traced_memory().peak == mine.current);
  free(b);

  /* A pool hands out pieces of one chunk; each piece is attributed to its own caller. */
  char* chunk = malloc(1024);
  EXPECT(measure_report_alloc(chunk, 64) == 1); /* same address as the chunk: separate keys */
  EXPECT(measure_report_alloc(chunk + 64, 64) == 1);
  EXPECT(measure_report_free(chunk + 64) == 1);
  EXPECT(measure_report_free(chunk + 64) == 0);
  EXPECT(measure_get_traced_memory().current - before.current == 1024 + 64);

  for (int i = 0; i < 3; ++i) {
    measure_scope_begin("c-loop");
    sink = malloc(8);
    free(sink);
    measure_scope_end(NULL);
  }
  EXPECT(measure_write_capture(argv[1]) == 0);
  EXPECT(measure_write_capture("/nonexistent-dir/x.msr") != 0);
  measure_report_free(chunk);
  free(chunk);
  measure_reset_peak();
  EXPECT(measure_get_traced_memory().peak == measure_get_traced_memory().current);

  /* Totals in the report's metric names; this program has one thread. */
  measure_totals_t process_before = measure_get_totals();
  measure_totals_t thread_before = measure_get_thread_totals();
  void* kept = malloc(64);
  void* scratch = malloc(16);
  free(scratch);
  measure_totals_t process_after = measure_get_totals();
  measure_totals_t thread_after = measure_get_thread_totals();
  free(kept);
  EXPECT(process_after.alloc_count - process_before.alloc_count == 2);
  EXPECT(process_after.alloc_bytes - process_before.alloc_bytes == 80);
  EXPECT(process_after.free_count - process_before.free_count == 1);
  EXPECT(process_after.live_bytes - process_before.live_bytes == 64);
  EXPECT(process_after.temporary_count - process_before.temporary_count == 1);
  EXPECT(thread_after.alloc_bytes - thread_before.alloc_bytes == 80);
  EXPECT(thread_after.freed_bytes - thread_before.freed_bytes == 16);
  EXPECT(thread_after.live_count - thread_before.live_count == 1);
  EXPECT(process_after.peak_bytes >= (uint64_t)process_after.live_bytes);
  return failures == 0 ? 0 : 1;
}
