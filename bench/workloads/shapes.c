/* Allocation shapes that the churn workload does not have, for the overhead benchmark
 * (bench/overhead.cpp). Each is a way real programs defeat shortcuts a recorder may take:
 *
 *   shapes --shape recursion|rising|sizes|stacks [--threads N] [--ops N] [--stacks N]
 *
 *   recursion  the same allocating functions reached through a recursion 1 to 48 levels deep,
 *              a different depth each time, so whole stacks rarely repeat while their outer
 *              part does; a ring of live blocks of 16-271 bytes, and a temporary freed on the
 *              way back up
 *   rising     two blocks allocated and one freed per operation, none freed until exit: live
 *              bytes rise all run long, so every event is at or next to the peak
 *   sizes      sizes from 16 bytes to 8 KiB (as many of each power of two), a ring of live
 *              blocks and a temporary per round, written like a scratch buffer
 *   stacks     200,000 distinct call stacks: a path 18 calls deep through two functions,
 *              chosen by the bits of the operation's stack number, allocates at its end
 *
 *   --stacks   the stacks shape's distinct stacks (default 200,000); beyond 2^18 the paths
 *              grow as deep as the number's bits (2^20 stacks: 20 calls). With as many
 *              operations as stacks (a power of two), each stack allocates exactly once
 *
 *   --ops      operations per thread (default 1,000,000); an operation is one allocation and
 *              (except in rising) one free, plus the temporaries
 *
 * Deterministic: the same arguments make the same calls in the same order (per thread). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

#define NOINLINE __attribute__((noinline))
#define KEEP() __asm__ volatile("" ::: "memory")

enum Shape { recursion, rising, sizes, stacks };

static enum Shape g_shape = recursion;
static int g_threads = 1;
static long g_ops = 1000000;
static void* volatile g_sink;

enum { ring_size = 4096 };

static uint32_t g_distinct_stacks = 200000;
static int g_path_bits = 18;

static NOINLINE void* allocate_small(uint64_t r) {
  void* p = malloc(16 + (size_t)(r % 256));
  KEEP();
  return p;
}

static NOINLINE void* allocate_record(uint64_t r) {
  void* p = calloc(1, 16 + (size_t)(r % 128));
  KEEP();
  return p;
}

/* ---- recursion --------------------------------------------------------------------------- */

static NOINLINE void* descend(int depth, uint64_t r) {
  void* p;
  if (depth <= 0) {
    p = (r & 1) != 0 ? allocate_small(r >> 1) : allocate_record(r >> 1);
  } else {
    p = descend(depth - 1, r);
    if (depth % 8 == 0) {
      /* a temporary on the way back up, at a depth that differs from call to call */
      void* scratch = allocate_small(r >> 3);
      g_sink = scratch;
      free(scratch);
    }
  }
  KEEP();
  return p;
}

/* ---- stacks: 2^18 (or more) paths through two functions, g_distinct_stacks of them used ----- */

static NOINLINE void* path_step(int level, uint32_t bits, uint64_t r);
static volatile int g_left_steps;
static volatile int g_right_steps;

static NOINLINE void* go_left(int level, uint32_t bits, uint64_t r) {
  g_left_steps = level;
  void* p = path_step(level + 1, bits, r);
  KEEP();
  return p;
}

static NOINLINE void* go_right(int level, uint32_t bits, uint64_t r) {
  g_right_steps = level;
  void* p = path_step(level + 1, bits, r);
  KEEP();
  return p;
}

static NOINLINE void* path_step(int level, uint32_t bits, uint64_t r) {
  void* p;
  if (level == g_path_bits) {
    p = allocate_small(r);
  } else if ((bits >> level) & 1) {
    p = go_right(level, bits, r);
  } else {
    p = go_left(level, bits, r);
  }
  KEEP();
  return p;
}

/* ---- sizes: 16 B to 8 KiB, the same number of each power of two -------------------------- */

static NOINLINE void* allocate_sized(uint64_t r) {
  size_t n = (size_t)16 << (r % 10); /* 16 B .. 8 KiB */
  n += (size_t)(r >> 8) % n;
  void* p = malloc(n > 8192 ? 8192 : n);
  KEEP();
  return p;
}

static NOINLINE void use_scratch(uint64_t r) {
  size_t n = (size_t)16 << ((r >> 20) % 10);
  char* scratch = malloc(n);
  if (scratch != NULL) {
    memset(scratch, (int)r, n < 64 ? n : 64);
    g_sink = scratch;
  }
  free(scratch);
}

/* ---- the operations ------------------------------------------------------------------------ */

static NOINLINE void* one_block(uint64_t r, uint64_t op) {
  switch (g_shape) {
    case recursion:
      return descend(1 + (int)((r >> 32) % 48), r);
    case stacks:
      return path_step(0, (uint32_t)((op * 2654435761u) % g_distinct_stacks), r);
    case sizes:
      use_scratch(r);
      return allocate_sized(r);
    case rising:
      break;
  }
  return allocate_small(r);
}

static NOINLINE void* worker(void* arg) {
  uint64_t state = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)arg;
  if (g_shape == rising) {
    void** kept = malloc((size_t)g_ops * sizeof(void*));
    if (kept == NULL) {
      return NULL;
    }
    for (long i = 0; i < g_ops; ++i) {
      uint64_t r = next_random(&state);
      void* dropped = allocate_small(r >> 8);
      kept[i] = allocate_record(r);
      free(dropped);
    }
    for (long i = 0; i < g_ops; ++i) {
      free(kept[i]);
    }
    free(kept);
    return NULL;
  }
  void** ring = calloc(ring_size, sizeof(void*));
  if (ring == NULL) {
    return NULL;
  }
  for (long i = 0; i < g_ops; ++i) {
    uint64_t r = next_random(&state);
    long slot = (long)((r >> 40) % ring_size);
    free(ring[slot]);
    ring[slot] = one_block(r, (uint64_t)i);
    if (ring[slot] != NULL) {
      *(volatile char*)ring[slot] = (char)r;
    }
  }
  for (long i = 0; i < ring_size; ++i) {
    free(ring[i]);
  }
  free(ring);
  return NULL;
}

int main(int argc, char** argv) {
  static const char* const names[] = {"recursion", "rising", "sizes", "stacks"};
  int shape_given = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--shape") == 0) {
      for (int s = 0; s < 4; ++s) {
        if (strcmp(argv[i + 1], names[s]) == 0) {
          g_shape = (enum Shape)s;
          shape_given = 1;
        }
      }
    } else if (strcmp(argv[i], "--threads") == 0) {
      g_threads = (int)workload_number("shapes", argv[i + 1]);
    } else if (strcmp(argv[i], "--ops") == 0) {
      g_ops = workload_number("shapes", argv[i + 1]);
    } else if (strcmp(argv[i], "--stacks") == 0) {
      long stacks = workload_number("shapes", argv[i + 1]);
      if (stacks < 1 || stacks > (1L << 30)) {
        fprintf(stderr, "shapes: --stacks must be between 1 and 2^30\n");
        return 2;
      }
      g_distinct_stacks = (uint32_t)stacks;
      while ((1L << g_path_bits) < stacks) {
        ++g_path_bits;
      }
    } else {
      fprintf(stderr, "shapes: unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  if (!shape_given || g_threads < 1) {
    fprintf(stderr, "usage: shapes --shape recursion|rising|sizes|stacks [--threads N] [--ops N] [--stacks N]\n");
    return 2;
  }
  run_workers(g_threads, worker);
  return 0;
}
