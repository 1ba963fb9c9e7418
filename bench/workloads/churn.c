/* An allocation-bound C program for the overhead benchmark (bench/overhead.cpp): each thread
 * keeps a ring of live blocks and replaces a random one per operation, so the program does
 * little else than malloc, calloc, realloc and free. The blocks come from sixteen call sites
 * at call depths 3 to 10 below the thread's entry, as in a real program. Deterministic: the
 * same arguments make the same calls in the same order (per thread).
 *
 *   churn [--threads N] [--ops N] [--size small|large] [--live N] [--hold N] [--gate FILE]
 *
 *   --ops     operations per thread (default 10,000,000)
 *   --size    small: 16 to 271 bytes (default); large: 4 KiB to 68 KiB
 *   --live    ring size: blocks live at any time per thread (default 4096)
 *   --hold    blocks allocated first and kept until exit (leaked): for the memory figures
 *   --gate    waits (1 ms sleeps) until FILE exists before it works, then writes the seconds
 *             its work took to FILE.done: a run timed from a moment chosen outside, for
 *             `measure attach` (bench/attach_bench.cpp) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

struct Config {
  int threads;
  long ops;
  int large;
  long live;
  long hold;
};

static struct Config g_config = {1, 10000000, 0, 4096, 0};
static const char* g_gate;
static void* volatile g_sink;

static size_t block_size(uint64_t r) {
  return g_config.large ? 4096 + (size_t)(r % 65536) : 16 + (size_t)(r % 256);
}

/* The sites: a chain of distinct frames, so stacks differ and have some depth. */
#define NOINLINE __attribute__((noinline))
#define KEEP() __asm__ volatile("" ::: "memory")

static NOINLINE void* site_malloc(size_t n) {
  void* p = malloc(n);
  KEEP();
  return p;
}
static NOINLINE void* site_calloc(size_t n) {
  void* p = calloc(1, n);
  KEEP();
  return p;
}
static NOINLINE void* site_realloc(size_t n) {
  void* p = realloc(NULL, n / 2);
  if (p != NULL) {
    p = realloc(p, n);
  }
  KEEP();
  return p;
}
static NOINLINE void* site_aligned(size_t n) {
  void* p = NULL;
  if (posix_memalign(&p, 64, n) != 0) {
    return NULL;
  }
  KEEP();
  return p;
}

typedef void* (*Site)(size_t);

static NOINLINE void* level(int depth, Site site, size_t n) {
  void* p = depth <= 0 ? site(n) : level(depth - 1, site, n);
  KEEP();
  return p;
}

static NOINLINE void* parse_record(uint64_t r, size_t n) {
  return level((int)(r >> 8) % 4, site_malloc, n);
}
static NOINLINE void* build_index(uint64_t r, size_t n) {
  return level((int)(r >> 8) % 3, site_calloc, n);
}
static NOINLINE void* grow_buffer(uint64_t r, size_t n) {
  return level((int)(r >> 8) % 2, site_realloc, n);
}
static NOINLINE void* cache_line(uint64_t r, size_t n) {
  return level(1, site_aligned, n);
}

static NOINLINE void* allocate(uint64_t r) {
  size_t n = block_size(r >> 16);
  void* p;
  switch (r % 16) {
    case 0:
      p = grow_buffer(r, n);
      break;
    case 1:
    case 2:
      p = build_index(r, n);
      break;
    case 3:
      p = cache_line(r, n);
      break;
    default:
      p = parse_record(r, n);
      break;
  }
  if (p != NULL) {
    *(volatile char*)p = (char)r; /* touch it, as a program would */
  }
  return p;
}

static NOINLINE void* worker(void* arg) {
  uint64_t state = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)arg;
  for (long i = 0; i < g_config.hold; ++i) {
    g_sink = site_malloc(16 + (size_t)(next_random(&state) % 64));
  }
  void** ring = calloc((size_t)g_config.live, sizeof(void*));
  if (ring == NULL) {
    return NULL;
  }
  for (long i = 0; i < g_config.ops; ++i) {
    uint64_t r = next_random(&state);
    long slot = (long)((r >> 40) % (uint64_t)g_config.live);
    free(ring[slot]);
    ring[slot] = allocate(r);
  }
  for (long i = 0; i < g_config.live; ++i) {
    free(ring[i]);
  }
  free(ring);
  return NULL;
}

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--threads") == 0) {
      g_config.threads = (int)workload_number("churn", argv[i + 1]);
    } else if (strcmp(argv[i], "--ops") == 0) {
      g_config.ops = workload_number("churn", argv[i + 1]);
    } else if (strcmp(argv[i], "--size") == 0) {
      g_config.large = strcmp(argv[i + 1], "large") == 0;
    } else if (strcmp(argv[i], "--live") == 0) {
      g_config.live = workload_number("churn", argv[i + 1]);
    } else if (strcmp(argv[i], "--hold") == 0) {
      g_config.hold = workload_number("churn", argv[i + 1]);
    } else if (strcmp(argv[i], "--gate") == 0) {
      g_gate = argv[i + 1];
    } else {
      fprintf(stderr, "churn: unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  if (g_config.threads < 1 || g_config.live < 1) {
    fprintf(stderr, "churn: --threads and --live must be at least 1\n");
    return 2;
  }
  if (g_gate == NULL) {
    run_workers(g_config.threads, worker);
    return 0;
  }
  struct timespec pause = {0, 1000000};
  while (access(g_gate, F_OK) != 0) {
    nanosleep(&pause, NULL);
  }
  struct timespec start;
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  run_workers(g_config.threads, worker);
  clock_gettime(CLOCK_MONOTONIC, &end);
  char done[4096];
  snprintf(done, sizeof done, "%s.done", g_gate);
  FILE* out = fopen(done, "w");
  if (out == NULL) {
    return 1;
  }
  fprintf(out, "%.6f\n", (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9);
  fclose(out);
  return 0;
}
