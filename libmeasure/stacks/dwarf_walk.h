// The DWARF walker: steps frames by applying whole rows of the modules' unwind tables
// (stacks/cfi.h), DWARF expressions and signal frames included, for what the fast walk
// (stacks/unwind.h) cannot step: the kernel's signal frames (glibc's restorer describes the
// interrupted registers with expressions), frames whose rules use expressions or other
// registers, and stacks whose bounds the runtime does not know (a coroutine's, a
// sigaltstack's, where the walk starts). It touches no file descriptor and no lock, allocates
// nothing, and reads the program's memory only where ProgramMemory knows it to be readable.
#pragma once

#include <cstdint>

#include "stacks/cfi.h"
#include "stacks/frame_rules.h"

namespace measure::detail {

/// The registers of one frame, by DWARF number; reg_ra holds the frame's instruction address.
struct Registers {
  std::uintptr_t value[register_count];
  std::uint32_t known;  // bit n: value[n] is the register's value in this frame

  bool has(unsigned reg) const noexcept { return reg < register_count && (known >> reg & 1U) != 0; }
  void set(unsigned reg, std::uintptr_t v) noexcept {
    value[reg] = v;
    known |= 1U << reg;
  }
  void forget(unsigned reg) noexcept { known &= ~(1U << reg); }
};

/// Reads of the program's memory that never fault: the thread's own stack (known bounds), and
/// pages the kernel confirmed readable (platform::readable_pages, a few per walk).
class ProgramMemory {
 public:
  /// `stack_low`/`stack_high`: the thread's stack (empty when unknown); `trusted`: an address
  /// on a page known to be mapped (the toolkit's own frame), or 0.
  ProgramMemory(std::uintptr_t stack_low, std::uintptr_t stack_high, std::uintptr_t trusted) noexcept;
  /// The word at `address`; false when it cannot be shown readable.
  bool read(std::uintptr_t address, std::uintptr_t* value) noexcept;
  /// Bytes [address, address + size) are readable.
  bool readable(std::uintptr_t address, std::uintptr_t size) noexcept;
  /// A read was refused: the memory could not be shown readable (the walk may have ended
  /// early because of it).
  bool refused() const noexcept { return m_refused; }

 private:
  struct Range {
    std::uintptr_t low;
    std::uintptr_t high;
  };
  static constexpr unsigned max_probes = 6;    // kernel calls per walk
  static constexpr unsigned probe_pages = 16;  // pages each call checks

  bool known(std::uintptr_t address, std::uintptr_t size) const noexcept;

  Range m_stack;
  Range m_probed[max_probes + 1];  // [0]: the trusted page
  unsigned m_ranges = 0;
  unsigned m_probes = 0;
  bool m_refused = false;
};

/// The toolkit's own code: its frames are left out of stacks.
struct OwnCode {
  std::uintptr_t begin;
  std::uintptr_t end;
  bool contains(std::uintptr_t address) const noexcept { return address >= begin && address < end; }
};

/// Walks on from the frame in `regs` (whose reg_ra is a return address, or the interrupted
/// instruction itself when `exact`: a frame a signal interrupted), appending the callers to
/// frames[depth, max). Frames whose cached rule (`rules`) is an ordinary one are stepped with
/// it; the others with their whole row. A frame reached through a signal frame is stored as its
/// address + 1, so that it reads like a return address (the symbolizer and the rules look at
/// address - 1). Sets frames[max] to 1 when the depth limit cut the walk, and stack_partial in
/// `flags` when a frame without unwind tables was stepped through its frame pointer. Returns
/// the new depth.
std::uint32_t dwarf_walk(Registers regs, bool exact, ProgramMemory& memory, FrameRules& rules, const OwnCode& own,
                         std::uintptr_t* frames, std::uint32_t depth, std::uint32_t max, std::uint32_t* flags) noexcept;

}  // namespace measure::detail
