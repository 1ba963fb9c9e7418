/* measure: the C API of the in-process allocation tracer.
 *
 * Link libmeasure (CMake: measure::measure, pkg-config: measure). Every function is safe to
 * call at any time, from any thread, whether or not allocations are being traced: when they
 * are not (MEASURE_MODE=off, or another allocator owns malloc), queries report zeros and
 * actions do nothing and say so in their return value. None of them allocates from the
 * program's heap. See docs/api.md. */
#ifndef MEASURE_MEASURE_H
#define MEASURE_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MEASURE_API __attribute__((visibility("default")))
#else
#define MEASURE_API
#endif

/* 1 when this process's allocations are being traced, else 0. */
MEASURE_API int measure_is_tracing(void);

/* What is recorded, as configured for this process (MEASURE_MODE, MEASURE_DEPTH,
 * MEASURE_SAMPLE_INTERVAL or `measure run`'s options). */
typedef struct measure_settings {
  const char* mode;         /* "exact", "sampled", "counters", or "off" when not tracing */
  uint32_t depth;           /* most frames recorded per stack */
  uint64_t sample_interval; /* sampled mode: mean bytes between samples; else 0 */
} measure_settings_t;

/* The settings in effect. Safe at any time; mode "off" when not tracing. */
MEASURE_API measure_settings_t measure_get_settings(void);

typedef struct measure_traced_memory {
  uint64_t current; /* bytes live now */
  uint64_t peak;    /* the most bytes live at once since start or the last reset */
} measure_traced_memory_t;

/* Process-wide live bytes and their peak. Zeros when not tracing. */
MEASURE_API measure_traced_memory_t measure_get_traced_memory(void);
/* Sets the process-wide peak to the current live bytes. */
MEASURE_API void measure_reset_peak(void);

typedef struct measure_thread_memory {
  int64_t current; /* the calling thread's allocated minus freed bytes (negative when it freed
                      more than it allocated, e.g. blocks of other threads) */
  int64_t peak;    /* the highest `current` since the thread started or the last reset */
} measure_thread_memory_t;

/* The calling thread's own traced memory. Zeros when not tracing. */
MEASURE_API measure_thread_memory_t measure_get_thread_traced_memory(void);
/* Sets the calling thread's peak to its current value. */
MEASURE_API void measure_reset_thread_peak(void);

/* Allocation counts in the metric names of `measure report`, for the process or one thread. */
typedef struct measure_totals {
  uint64_t alloc_count; /* allocations (calloc, realloc to a new block and new included) */
  uint64_t alloc_bytes; /* bytes requested by them */
  uint64_t free_count;  /* frees of traced blocks */
  uint64_t freed_bytes;
  int64_t live_count;       /* alloc_count - free_count (a thread's is negative when it freed
                               more blocks than it allocated, e.g. blocks of other threads) */
  int64_t live_bytes;       /* alloc_bytes - freed_bytes (likewise) */
  uint64_t peak_bytes;      /* the highest live_bytes since start or the last reset: exact in
                               exact mode, sampled (at least this high) in the other modes */
  uint64_t temporary_count; /* blocks freed by their thread before its next allocation: the
                               process's, in exact mode (0 otherwise) */
} measure_totals_t;

/* The process's totals since tracing started: every thread's, the exited ones included.
 * Zeros when not tracing. Exact mode adds up every thread's call sites: about a millisecond
 * per 100,000 sites; the other modes add up one counter set per thread. */
MEASURE_API measure_totals_t measure_get_totals(void);
/* The calling thread's own allocations and frees since it started (peak_bytes since the last
 * measure_reset_thread_peak). Zeros when not tracing. */
MEASURE_API measure_totals_t measure_get_thread_totals(void);

typedef struct measure_scope_totals {
  uint64_t alloc_count; /* allocations made by the thread while the scope was open */
  uint64_t alloc_bytes;
  uint64_t free_count; /* frees made by the thread while the scope was open (any block) */
  uint64_t freed_bytes;
  int64_t live_bytes;  /* change of live bytes: alloc_bytes - freed_bytes */
  int64_t live_count;  /* change of live blocks: alloc_count - free_count */
  uint64_t peak_bytes; /* the scope's own high-water mark of live_bytes (0 if never above 0) */
} measure_scope_totals_t;

/* Opens a scope on the calling thread. Scopes nest (up to 32 deep) and count only the calling
 * thread's allocations. A non-empty `name` also adds the scope's costs to the capture under
 * that name (entries, totals, per-site deltas). Returns 1 when the scope was opened, 0 when
 * not tracing or nested too deeply; pair every call with measure_scope_end either way. */
MEASURE_API int measure_scope_begin(const char* name);
/* Closes the calling thread's innermost scope and stores its totals in *totals (when not
 * NULL; zeros if the scope was not opened). Returns 1, or 0 when no scope was open. */
MEASURE_API int measure_scope_end(measure_scope_totals_t* totals);

/* Writes a capture of the process as it is now to `path` (NULL: the configured output,
 * MEASURE_OUTPUT or measure.<program>.<pid>.msr), replacing it atomically. Returns 0, -1 when
 * not tracing, or an errno value when the file cannot be written. */
MEASURE_API int measure_write_capture(const char* path);

/* Custom allocators (pools, arenas): report each block you hand out and take back, so it is
 * attributed to the call stack that asked for it. Blocks are keyed by address apart from
 * malloc's, so a pool block may share its address with the chunk it was carved from. The
 * pool's own chunks stay counted too (as the allocations of the pool). Return 1 when
 * recorded, 0 when not tracing (or, for a free, when the block was never reported), and for
 * an allocation -1 when the block was reported before and not freed since (nothing is
 * recorded: report its free first). */
MEASURE_API int measure_report_alloc(const void* block, size_t size);
MEASURE_API int measure_report_free(const void* block);

#ifdef __cplusplus
}
#endif

#endif /* MEASURE_MEASURE_H */
