/* The floor of the light modes' cost (docs/performance.md, "What the light modes' bars
 * allow"): two minimal preloads that the overhead benchmark runs beside measure's modes, so
 * that every run shows how much of a mode's cost any interposing tool pays on this machine.
 * Benchmark code, never loaded by measure itself.
 *
 * Built twice (bench/CMakeLists.txt):
 * - floor_forward: each allocation function calls glibc's own (its __libc_ entry points) and
 *   does nothing else: the price of being interposed at all.
 * - floor_totals (MEASURE_FLOOR_TOTALS): also keeps what counters mode's exact totals need at
 *   the least: per-thread counts and requested bytes of allocations and frees, the free's
 *   requested size recovered from a one-byte shadow cell per 16-byte granule (the slack below
 *   glibc's usable size, as record/block_shadow.h does). No stacks, no global live bytes or
 *   peak, no scopes, no thread registry, no errno care: a lower bound, not a tool. With
 *   MEASURE_FLOOR_OUTPUT set it writes "alloc_count alloc_bytes free_count freed_bytes missed
 *   shadow_bits" there at exit, so a test can check it counts what measure counts, and the
 *   benchmark that its shadow was mapped (shadow_bits: the address bits it covers, 0 when it
 *   could not be mapped and nothing was counted). Missed: allocations it gave no cell (slack
 *   over 254 bytes, as glibc's mmapped blocks have), which cost it only the forwarding.
 *
 * The shadow is one reservation of 8 TiB for the whole 47-bit address space. Where that much
 * address space is refused (valgrind's address-space manager refuses it), smaller ones cover
 * the low part of the address space, where valgrind puts the heap.
 *
 * Only glibc's malloc: the shadow reads glibc's chunk header for the usable size. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sys/mman.h>

extern void* __libc_malloc(size_t size);
extern void __libc_free(void* block);
extern void* __libc_calloc(size_t count, size_t size);
extern void* __libc_realloc(void* block, size_t size);
extern void* __libc_memalign(size_t alignment, size_t size);

#define EXPORT __attribute__((visibility("default")))

#ifdef MEASURE_FLOOR_TOTALS

/* One slot per thread, claimed on its first event and never given back: the sums at exit
 * include threads that have ended. */
struct Slot {
  uint64_t alloc_count, alloc_bytes, free_count, freed_bytes;
} __attribute__((aligned(64)));

enum { max_slots = 1024 };
static struct Slot g_slots[max_slots];
static unsigned g_slot_count;
static struct Slot g_overflow; /* shared by threads past max_slots (counts may tear: a bench) */
static __thread struct Slot* t_slot __attribute__((tls_model("initial-exec")));
static uint8_t* g_shadow; /* one byte per 16-byte granule below 2^g_address_bits */
static unsigned g_address_bits;
static int g_shadow_failed;
static uint64_t g_missed; /* allocations without a cell: neither they nor their frees count */

/* On the first event, not in a constructor: other libraries' constructors (libstdc++'s
 * emergency pool) allocate before this library's would run. */
__attribute__((noinline, cold)) static uint8_t* map_shadow(void) {
  if (__atomic_load_n(&g_shadow_failed, __ATOMIC_RELAXED)) {
    return NULL;
  }
  static const unsigned tries[] = {47, 40, 38};
  void* p = MAP_FAILED;
  unsigned bits = 0;
  for (unsigned i = 0; i < sizeof tries / sizeof tries[0] && p == MAP_FAILED; ++i) {
    bits = tries[i];
    p = mmap(NULL, (size_t)1 << (bits - 4), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  }
  if (p == MAP_FAILED) {
    __atomic_store_n(&g_shadow_failed, 1, __ATOMIC_RELAXED);
    return NULL;
  }
  /* Small pages: with transparent huge pages on "always", each first touch of the sparse
   * shadow would clear 2 MiB (rising-1t ran at 2.5x native, nearly half of it in the kernel
   * clearing pages). */
  madvise(p, (size_t)1 << (bits - 4), MADV_NOHUGEPAGE);
  __atomic_store_n(&g_address_bits, bits, __ATOMIC_RELAXED);
  uint8_t* expected = NULL;
  if (!__atomic_compare_exchange_n(&g_shadow, &expected, (uint8_t*)p, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    munmap(p, (size_t)1 << (bits - 4)); /* another thread mapped it first */
    return expected;
  }
  return (uint8_t*)p;
}

__attribute__((noinline)) static struct Slot* claim_slot(void) {
  unsigned i = __atomic_fetch_add(&g_slot_count, 1, __ATOMIC_RELAXED);
  t_slot = i < max_slots ? &g_slots[i] : &g_overflow;
  return t_slot;
}

static inline struct Slot* slot(void) {
  struct Slot* s = t_slot;
  return __builtin_expect(s != NULL, 1) ? s : claim_slot();
}

/* glibc's usable size from the chunk header (its mmapped-chunk bit costs one more word). */
static inline size_t usable(const void* block) {
  size_t header = ((const size_t*)block)[-1];
  return (header & ~(size_t)7) - ((header & 2) != 0 ? 16 : 8);
}

static inline uint8_t* cell(const void* block) {
  uintptr_t a = (uintptr_t)block;
  uint8_t* shadow = __atomic_load_n(&g_shadow, __ATOMIC_ACQUIRE);
  if (__builtin_expect(shadow == NULL, 0) && (shadow = map_shadow()) == NULL) {
    return NULL;
  }
  return (a & 15) == 0 && a >> g_address_bits == 0 ? &shadow[a >> 4] : NULL;
}

static inline void on_allocation(void* block, size_t size) {
  uint8_t* c = cell(block);
  size_t slack = c != NULL ? usable(block) - size : 0;
  if (c == NULL || slack > 254) {
    __atomic_fetch_add(&g_missed, 1, __ATOMIC_RELAXED); /* its free could not recover its size */
    return;
  }
  *c = (uint8_t)(slack + 1);
  struct Slot* s = slot();
  s->alloc_count++;
  s->alloc_bytes += size;
}

static inline void on_free(void* block) {
  uint8_t* c = block != NULL ? cell(block) : NULL;
  if (c == NULL || *c == 0) {
    return;
  }
  size_t slack = (size_t)(*c - 1);
  *c = 0;
  struct Slot* s = slot();
  s->free_count++;
  s->freed_bytes += usable(block) - slack;
}

__attribute__((destructor)) static void floor_report(void) {
  const char* path = getenv("MEASURE_FLOOR_OUTPUT");
  if (path == NULL) {
    return;
  }
  struct Slot sum = g_overflow;
  unsigned slots = __atomic_load_n(&g_slot_count, __ATOMIC_RELAXED);
  for (unsigned i = 0; i < slots && i < max_slots; ++i) {
    sum.alloc_count += g_slots[i].alloc_count;
    sum.alloc_bytes += g_slots[i].alloc_bytes;
    sum.free_count += g_slots[i].free_count;
    sum.freed_bytes += g_slots[i].freed_bytes;
  }
  /* No stdio: fclose frees the stream's buffer, and that free can make glibc consolidate every
   * small block the program freed before (0.4 s at the end of rising-1t, which frees 6
   * million blocks at exit), a cost that is the floor's file, not the floor. */
  char line[160];
  int n =
      snprintf(line, sizeof line, "%llu %llu %llu %llu %llu %u\n", (unsigned long long)sum.alloc_count,
               (unsigned long long)sum.alloc_bytes, (unsigned long long)sum.free_count,
               (unsigned long long)sum.freed_bytes, (unsigned long long)__atomic_load_n(&g_missed, __ATOMIC_RELAXED),
               __atomic_load_n(&g_address_bits, __ATOMIC_RELAXED));
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0 && n > 0) {
    ssize_t written = write(fd, line, (size_t)n);
    (void)written;
  }
  if (fd >= 0) {
    close(fd);
  }
}

#else

static inline void on_allocation(void* block, size_t size) {
  (void)block;
  (void)size;
}
static inline void on_free(void* block) {
  (void)block;
}

#endif

EXPORT void* malloc(size_t size) {
  void* p = __libc_malloc(size);
  if (p != NULL) {
    on_allocation(p, size);
  }
  return p;
}

EXPORT void free(void* block) {
  on_free(block);
  __libc_free(block);
}

EXPORT void* calloc(size_t count, size_t size) {
  void* p = __libc_calloc(count, size);
  if (p != NULL) {
    on_allocation(p, count * size);
  }
  return p;
}

EXPORT void* realloc(void* block, size_t size) {
  on_free(block);
  void* p = __libc_realloc(block, size);
  if (p != NULL) {
    on_allocation(p, size);
  }
  return p;
}

EXPORT void* memalign(size_t alignment, size_t size) {
  void* p = __libc_memalign(alignment, size);
  if (p != NULL) {
    on_allocation(p, size);
  }
  return p;
}

EXPORT void* aligned_alloc(size_t alignment, size_t size) {
  return memalign(alignment, size);
}

EXPORT int posix_memalign(void** out, size_t alignment, size_t size) {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) {
    return EINVAL;
  }
  void* p = memalign(alignment, size);
  if (p == NULL) {
    return ENOMEM;
  }
  *out = p;
  return 0;
}
