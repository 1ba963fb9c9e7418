// How to step from a frame to its caller, read from the module's own unwind tables (DWARF
// call frame information in .eh_frame, found through .eh_frame_hdr). Only the rules that
// ordinary compiled code uses are understood: the canonical frame address (CFA) is the stack
// pointer or the frame pointer plus an offset, the return address and the saved frame pointer
// are at fixed offsets from the CFA. A frame built with frame pointers is simply the rule
// "CFA = rbp + 16, rbp saved at CFA - 16". Anything else (expressions, signal frames, other
// CFA registers) is reported as unsupported and left to libunwind. x86-64 only.
#pragma once

#include <cstdint>

namespace measure::detail {

/// The unwind rule at one return address, in 8 bytes.
struct FrameRule {
  enum Kind : std::uint8_t {
    none = 0,         // not computed (the rule cache's empty value)
    standard = 1,     // step with the fields below
    outermost = 2,    // the return address is undefined: the first frame of the thread
    unsupported = 3,  // a rule this reader does not understand: unwind with libunwind
    no_tables = 4,    // no unwind tables cover the address (JIT code, stripped tables)
  };
  std::int32_t cfa_offset;
  Kind kind;
  std::uint8_t cfa_from_rbp;  // 1: CFA = rbp + cfa_offset; 0: CFA = rsp + cfa_offset
  std::int8_t ra_slot;        // return address at CFA + 8 * ra_slot
  std::int8_t rbp_slot;       // saved rbp at CFA + 8 * rbp_slot; 0: rbp is not saved (unchanged)
};
static_assert(sizeof(FrameRule) == 8);

/// The rule that holds at `pc` (a call instruction's address: return address - 1) according
/// to the .eh_frame_hdr at `eh_frame_hdr` (as mapped in memory). Reads only the tables.
FrameRule rule_from_tables(std::uintptr_t eh_frame_hdr, std::uintptr_t pc) noexcept;

}  // namespace measure::detail
