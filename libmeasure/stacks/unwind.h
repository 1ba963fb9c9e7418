// Stack capture for the hot path. A walk starts at the innermost frame outside the toolkit
// (found through the toolkit's own frame pointers) and steps from frame to frame with the
// unwind rule of each return address (stacks/frame_rules.h): read from the module's unwind
// tables once, cached, and for code built with frame pointers simply "the caller's frame is
// at rbp". Code without tables is stepped through its frame pointers, validated against the
// thread's stack (the stack is then flagged partial). Rules that do not fit the cached form
// (signal frames, DWARF expressions other than a DRAP frame's, other registers) hand the rest
// of the walk to the DWARF walker (stacks/dwarf_walk.h), which applies whole rows of the
// tables; so does a walk that starts on a stack whose bounds the runtime does not know (a
// coroutine's, a sigaltstack's). Nothing here opens a file, takes a lock or allocates: never
// glibc's backtrace(), libgcc's unwinder or libunwind.
//
// Every walk also lists the stack words its result depends on (StackCheck): the return
// addresses it read, the words a DRAP frame's CFA was read from, and saved frame pointers only
// where a later frame used them (in code without frame pointers rbp is an ordinary register,
// often a loop variable, whose saved copies change from call to call without changing the
// stack). Reading the same words at the same addresses again yields the same values only if
// the unwinder would produce the same stack, which is what lets StackCache
// (stacks/stack_cache.h) reuse a walk's result without walking. A walk that needed the DWARF
// walker is not cacheable.
#pragma once

#include <cstdint>

#include "stacks/dwarf_walk.h"
#include "stacks/frame_rules.h"

namespace measure::detail {

/// Where a walk starts: the program's frame that called into the toolkit.
struct CallerFrame {
  std::uintptr_t ip;  // the return address into it
  std::uintptr_t sp;  // its stack pointer after the call returns (the toolkit frame's CFA)
  std::uintptr_t fp;  // its rbp at the call
};

/// One stack word a walk read.
struct StackCheck {
  std::uintptr_t address;
  std::uintptr_t value;
};

/// The thread's stack and scratch space for one walk.
struct WalkBuffers {
  std::uintptr_t stack_low;
  std::uintptr_t stack_high;
  std::uintptr_t* frames;  // capacity: the walk's `max` + 1
  StackCheck* checks;      // capacity: check_capacity
  std::uint32_t check_capacity;
  ThreadFrameRules* rules;  // the thread's own cache of rules; may be null
};

struct WalkResult {
  std::uint32_t depth;
  std::uint32_t flags;        // StackFlags (stack_truncated, stack_partial)
  std::uint32_t check_count;  // words the result depends on, in buffers.checks
  bool cacheable;             // every such word is listed in checks
  bool start_fp_used;         // the result depends on the start frame's rbp
};

class Unwinder {
 public:
  /// Whether the loader offers the lock-free lookup of unwind tables that walks need (glibc
  /// 2.35's _dl_find_object). Without it walks follow frame pointers only. Call at start-up.
  bool find_tables() noexcept;
  bool has_tables() const noexcept { return m_has_tables; }
  /// Frames whose return address lies in [begin, end) (the toolkit itself) are dropped.
  void set_own_range(std::uintptr_t begin, std::uintptr_t end) noexcept {
    m_own_begin = begin;
    m_own_end = end;
  }

  /// The innermost frame outside the toolkit, following the toolkit's frame pointers from
  /// `from`: the frame address of a toolkit function on the calling thread's stack (the
  /// nearer the hook, the fewer frames to step over). False when the stack bounds are
  /// unknown, or the toolkit's own frame chain leaves [stack_low, stack_high) (a foreign
  /// stack: coroutines, sigaltstack) or is broken. Inline: every allocation in exact mode
  /// calls it.
  bool caller(std::uintptr_t from, std::uintptr_t stack_low, std::uintptr_t stack_high,
              CallerFrame* out) const noexcept {
    if (stack_high <= stack_low) {
      return false;  // the thread's stack is unknown: walks could not be bounded
    }
    std::uintptr_t at = from;
    for (unsigned i = 0; i < max_own_frames; ++i) {
      if (at < stack_low || at > stack_high - 2 * sizeof(std::uintptr_t) || (at & 7) != 0) {
        return false;
      }
      std::uintptr_t ret = reinterpret_cast<const std::uintptr_t*>(at)[1];
      std::uintptr_t saved_fp = reinterpret_cast<const std::uintptr_t*>(at)[0];
      if (!is_own(ret)) {
        *out = CallerFrame{ret, at + 2 * sizeof(std::uintptr_t), saved_fp};
        return ret >= 4096;
      }
      if (saved_fp <= at) {
        return false;
      }
      at = saved_fp;
    }
    return false;
  }
  /// Walks at most `max` frames from `start`, innermost first. Never allocates and takes no
  /// lock of the runtime.
  WalkResult walk(const CallerFrame& start, std::uint32_t max, const WalkBuffers& buffers) noexcept;
  /// For a stack caller() cannot follow (a coroutine's, a sigaltstack's): steps over the
  /// toolkit's frames from `from` (as for caller()) and walks with the DWARF walker, which reads
  /// only memory shown to be readable. Not cacheable.
  WalkResult walk_foreign(std::uintptr_t from, std::uint32_t max, const WalkBuffers& buffers) noexcept;

  FrameRules& rules() noexcept { return m_rules; }

 private:
  bool is_own(std::uintptr_t address) const noexcept { return address >= m_own_begin && address < m_own_end; }
  /// The DWARF walker from a frame (return address `ip`, stack pointer `sp`, rbp `fp`), with
  /// `memory`; appends its callers after result->depth and flags a cut.
  void walk_with_rows(std::uintptr_t ip, std::uintptr_t sp, std::uintptr_t fp, ProgramMemory& memory, std::uint32_t max,
                      const WalkBuffers& buffers, WalkResult* result) noexcept;

  static constexpr unsigned max_own_frames = 64;

  FrameRules m_rules;
  std::uintptr_t m_own_begin = 0;
  std::uintptr_t m_own_end = 0;
  bool m_has_tables = false;
};

}  // namespace measure::detail
