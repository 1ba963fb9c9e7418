/* Fixture: known sizes, lifetimes, threads and largest blocks, for the summary.
 *   main:   3 blocks of 0 bytes, freed later;
 *           12 blocks of 1 byte, never freed (two of them so that no free after them is a
 *           temporary one);
 *           100 blocks of 100 bytes, each freed before the next allocation;
 *           1,000 blocks of 3,000 bytes, all allocated, then all freed;
 *           5 MiB (malloc) and 3 MiB (calloc), freed at the end.
 *   worker "summary-worker", joined before main's big blocks:
 *           500 blocks of 40 bytes, then freed, and 1 MiB + 1 byte, freed.
 * Every size lies in a class of its own, so each class's count is known exactly; the thread
 * library adds blocks of its own in other classes (pthread_create's).
 * Temporary blocks (freed with no allocation of their thread in between): the 100 of 100
 * bytes, the last of the 3,000-byte ones, the worker's last 40-byte one and its 1 MiB + 1. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>

static void* volatile sink;

static void* worker(void* unused) {
  (void)unused;
  pthread_setname_np(pthread_self(), "summary-worker");
  void* blocks[500];
  for (int i = 0; i < 500; ++i) {
    blocks[i] = malloc(40); /* @worker_small */
  }
  for (int i = 0; i < 500; ++i) {
    free(blocks[i]);
  }
  void* big = malloc((1u << 20) + 1); /* @worker_big */
  sink = big;
  free(big);
  return NULL;
}

int main(void) {
  void* empty[3];
  for (int i = 0; i < 3; ++i) {
    empty[i] = malloc(0); /* @empty */
  }
  for (int i = 0; i < 10; ++i) {
    sink = malloc(1); /* @leaked */
  }
  for (int i = 0; i < 100; ++i) {
    void* p = malloc(100); /* @temporary */
    sink = p;
    free(p);
  }
  static void* medium[1000];
  for (int i = 0; i < 1000; ++i) {
    medium[i] = malloc(3000); /* @medium */
  }
  for (int i = 0; i < 1000; ++i) {
    free(medium[i]);
  }
  for (int i = 0; i < 3; ++i) {
    free(empty[i]);
  }
  pthread_t thread;
  if (pthread_create(&thread, NULL, worker, NULL) != 0) {
    return 1;
  }
  sink = malloc(1); /* @kept */
  pthread_join(thread, NULL);
  void* five = malloc(5u << 20);     /* @largest */
  void* three = calloc(1, 3u << 20); /* @second */
  sink = malloc(1);                  /* @kept */
  sink = five;
  sink = three;
  free(five);
  free(three);
  return 0;
}
