/* What the C workloads of the overhead benchmark share: their random stream, their number
 * arguments, and running the worker on each thread. Header-only: each workload is one
 * program built from one source file. */
#ifndef MEASURE_BENCH_WORKLOAD_H
#define MEASURE_BENCH_WORKLOAD_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* xorshift64: the same stream on every machine. */
static inline uint64_t next_random(uint64_t* state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

/* A non-negative number argument of program `program`; exits with status 2 on anything else. */
static inline long workload_number(const char* program, const char* text) {
  char* end = NULL;
  long v = strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 0) {
    fprintf(stderr, "%s: bad number '%s'\n", program, text);
    exit(2);
  }
  return v;
}

/* Runs `worker` on `threads` threads, each given its number from 1 (on the main thread when
 * there is one). Returns when all have finished. */
static inline void run_workers(int threads, void* (*worker)(void*)) {
  if (threads == 1) {
    worker((void*)1);
    return;
  }
  pthread_t* ids = calloc((size_t)threads, sizeof(pthread_t));
  for (int t = 0; t < threads; ++t) {
    pthread_create(&ids[t], NULL, worker, (void*)(uintptr_t)(t + 1));
  }
  for (int t = 0; t < threads; ++t) {
    pthread_join(ids[t], NULL);
  }
  free(ids);
}

#endif
