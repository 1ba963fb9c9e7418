/* Fixture: a known shape of live bytes over time, for the timeline.
 *   a 100-byte block, kept to the end (leaked);
 *   8 MiB, touched (resident), held for 300 ms, then freed;
 *   100 ms more with only the small block live. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0) {
  }
}

int main(void) {
  void* volatile kept = malloc(100);
  size_t big_size = 8u << 20;
  char* volatile big = malloc(big_size);
  memset(big, 1, big_size);
  sleep_ms(300);
  free(big);
  sleep_ms(100);
  return kept == NULL;
}
