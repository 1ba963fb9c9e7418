// Stack capture for the hot path. With unwind tables (libunwind, loaded privately with
// RTLD_LOCAL so its _Unwind_* exports never join the program's symbol scope), stacks are
// exact. Before libunwind can be loaded (allocations made while the loader runs other
// libraries' constructors) frames are walked through frame pointers, validated against the
// thread's stack, and the stack is flagged partial. The toolkit's own frames are removed.
#pragma once

#include <cstdint>

namespace measure::detail {

class Unwinder {
 public:
  /// Loads libunwind and sets per-thread caching. Call only at a safe point (the library
  /// constructor): it runs the loader. Returns false if libunwind is unavailable, in which
  /// case capture() keeps using frame pointers.
  bool load_tables() noexcept;
  bool has_tables() const noexcept { return m_backtrace != nullptr; }
  /// Frames whose return address lies in [begin, end) (the toolkit itself) are dropped.
  void set_own_range(std::uintptr_t begin, std::uintptr_t end) noexcept {
    m_own_begin = begin;
    m_own_end = end;
  }

  /// Writes up to `max` return addresses of the calling thread into `out` (capacity `max`),
  /// innermost first, without the toolkit's frames. `stack_low/high` bound frame-pointer
  /// walks (0 when unknown). Sets stack_truncated/stack_partial in `flags`.
  /// Never allocates from the C heap itself and takes no lock of the runtime.
  std::uint32_t capture(std::uintptr_t* out, std::uint32_t max, std::uint32_t* flags, std::uintptr_t stack_low,
                        std::uintptr_t stack_high) const noexcept;

 private:
  std::uint32_t walk_frame_pointers(std::uintptr_t* out, std::uint32_t capacity, std::uintptr_t stack_low,
                                    std::uintptr_t stack_high) const noexcept;
  bool is_own(std::uintptr_t address) const noexcept { return address >= m_own_begin && address < m_own_end; }

  int (*m_backtrace)(void** buffer, int size) = nullptr;
  std::uintptr_t m_own_begin = 0;
  std::uintptr_t m_own_end = 0;
};

}  // namespace measure::detail
