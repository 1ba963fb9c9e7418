/* Fixture: allocations in three phases 200 ms apart, for reports of a stretch of time.
 *   t = 0:       early() keeps 100 blocks of 1,000 bytes;
 *   t = 200 ms:  two threads each run middle(): 500 blocks of 64 bytes, each freed at once,
 *                and 10 blocks of 4,096 bytes kept to the end;
 *   t = 400 ms:  late() frees early()'s blocks and keeps 3 blocks of 100,000 bytes;
 *   t = 500 ms:  exit. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0) {
  }
}

void* volatile g_early[100];
void* volatile g_middle[2][10];
void* volatile g_late[3];

__attribute__((noinline)) void early(void) {
  for (int i = 0; i < 100; ++i) {
    g_early[i] = malloc(1000);
  }
}

__attribute__((noinline)) void* middle(void* which) {
  long w = (long)which;
  for (int i = 0; i < 500; ++i) {
    void* volatile p = malloc(64);
    free(p);
  }
  for (int i = 0; i < 10; ++i) {
    g_middle[w][i] = malloc(4096);
  }
  return NULL;
}

__attribute__((noinline)) void late(void) {
  for (int i = 0; i < 100; ++i) {
    free(g_early[i]);
  }
  for (int i = 0; i < 3; ++i) {
    g_late[i] = malloc(100000);
  }
}

int main(void) {
  early();
  sleep_ms(200);
  pthread_t threads[2];
  for (long w = 0; w < 2; ++w) {
    pthread_create(&threads[w], NULL, middle, (void*)w);
  }
  for (int w = 0; w < 2; ++w) {
    pthread_join(threads[w], NULL);
  }
  sleep_ms(200);
  late();
  sleep_ms(100);
  return 0;
}
