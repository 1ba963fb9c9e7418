// The boundary between the runtime and the in-process C++ API. Both libmeasure_preload.so
// and libmeasure.so contain a runtime; exactly one owns the hooks in a process. The C++ API
// (and the public C functions) reach the runtime only through measure_rt_get(), an exported
// function that the preloaded copy interposes, so every call lands in the one runtime that
// is recording, and nothing is counted twice. The table is versioned: fields are only ever
// appended, and `size` tells a caller which ones exist.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "measure/measure.h"

extern "C" {

/// A call site inside a closed scope (see threads/scopes.h for the semantics).
struct measure_rt_site {
  uint32_t stack;
  uint32_t reserved;
  uint64_t alloc_count;
  uint64_t alloc_bytes;
  uint64_t free_count;
  uint64_t freed_bytes;
  int64_t net_bytes;
  int64_t net_count;
  int64_t peak_bytes;  // what the site held at the scope's peak
  int64_t peak_count;
};

struct measure_rt_stack {
  uint32_t depth;
  uint32_t generation;
  uint32_t flags;
  const uintptr_t* frames;  // `stack`: always null (read them with stack_frames)
};

/// A scope opened by scope_open (its owner's thread state) or scope_open_threads (its group),
/// both opaque, and its serial there.
struct measure_rt_scope {
  void* owner;      // null: not opened
  uint64_t serial;  // 0: not opened
  uint32_t group;   // 1: opened by scope_open_threads
};

/// What scope_open and scope_close report.
enum measure_rt_scope_status {
  measure_rt_scope_ok = 1,             // opened / closed with its totals
  measure_rt_scope_untraced = 0,       // nothing traced on this thread now
  measure_rt_scope_too_deep = -1,      // opened beyond the nesting limit: not opened
  measure_rt_scope_other_thread = -2,  // closed from a thread other than the opener's
  measure_rt_scope_not_open = -3,      // not open (any more): closed already, or a fork reset it
};

struct measure_rt_interface {
  uint32_t version;  // 1
  uint32_t size;     // sizeof(measure_rt_interface) of the runtime that answers

  int (*is_tracing)(void);
  /// Marks the calling thread busy (its allocations pass through untraced); returns the
  /// previous state for busy_exit.
  int (*busy_enter)(void);
  void (*busy_exit)(int previous);

  measure_traced_memory_t (*traced_memory)(void);
  void (*reset_peak)(void);
  measure_thread_memory_t (*thread_traced_memory)(void);
  void (*reset_thread_peak)(void);

  /// Opens a scope (name may be empty). 1 opened, 0 not (not tracing, too deep).
  int (*scope_begin)(const char* name, size_t name_size);
  /// Closes the innermost scope. When `sites` is not null it receives a copy of the scope's
  /// call sites (release with release_sites). 1 closed, 0 none open.
  int (*scope_end)(measure_scope_totals_t* totals, measure_rt_site** sites, uint32_t* site_count);
  void (*release_sites)(measure_rt_site* sites, uint32_t site_count);

  /// The state now, encoded as a capture file in memory, with stack frames elided (read
  /// them with `stack`). 1 done (release with release_snapshot), 0 not tracing or out of
  /// memory.
  int (*snapshot)(void** handle, const unsigned char** data, size_t* size);
  void (*release_snapshot)(void* handle);
  /// A stack by id, without its frames: the table keeps them coded (stacks/stack_table.h), so
  /// `out->frames` is null and `out->depth` 0; a caller that needs them uses stack_frames.
  /// 1 found, 0 unknown id.
  int (*stack)(uint32_t id, measure_rt_stack* out);
  /// The stack id and size of a live block. 1 found, 0 unknown (or not tracing).
  int (*allocation_site)(const void* block, uint32_t* stack, uint64_t* size);

  int (*write_capture)(const char* path);
  int (*report_alloc)(const void* block, size_t size);
  int (*report_free)(const void* block);

  /// A stack by id, its frames decoded into `frames` (room for `capacity`; a deeper stack is
  /// cut to it, and `out->depth` says how many were written; `out->frames` is `frames`). 1
  /// found, 0 unknown id. Appended: check `size` before calling.
  int (*stack_frames)(uint32_t id, uintptr_t* frames, uint32_t capacity, measure_rt_stack* out);

  /// Opens a scope that only scope_close(out) closes, whatever else is open on the thread
  /// (name may be empty). Returns a measure_rt_scope_status: ok, untraced or too_deep; `out`
  /// names no scope unless ok. Appended: check `size` before calling.
  int (*scope_open)(const char* name, size_t name_size, measure_rt_scope* out);
  /// Closes `scope` on the thread that opened it: ok with its totals and (when `sites` is not
  /// null) a copy of its call sites, released with release_sites. From another thread it
  /// returns other_thread, zeros and no sites: the opener closes it at its next scope call.
  /// Appended: check `size` before calling.
  int (*scope_close)(const measure_rt_scope* scope, measure_scope_totals_t* totals, measure_rt_site** sites,
                     uint32_t* site_count);
  /// Opens a scope that counts the calling thread and every thread it (or such a thread)
  /// creates while the scope is open; closed by scope_close, from any thread. ok, untraced,
  /// or too_deep (the thread is in such a scope already, or too many are open). Appended:
  /// check `size` before calling.
  int (*scope_open_threads)(const char* name, size_t name_size, measure_rt_scope* out);
  /// The settings in effect. Appended: check `size` before calling.
  measure_settings_t (*settings)(void);
  /// The process's totals (`thread_only` 0) or the calling thread's own (1); false and zeros
  /// when not tracing. Appended: check `size` before calling.
  int (*totals)(int thread_only, measure_totals_t* out);
};

/// The runtime that owns this process's hooks (never null).
MEASURE_API const measure_rt_interface* measure_rt_get(void);
}
