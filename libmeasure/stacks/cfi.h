// How to step from a frame to its caller, read from the module's own unwind tables (DWARF
// call frame information in .eh_frame, found through .eh_frame_hdr). x86-64 only.
//
// Two answers for one address: a FrameRow is the whole row of the table (every register's
// rule, DWARF expressions included, and whether the frame is a signal frame), which the
// DWARF walker (stacks/dwarf_walk.h) applies to any frame; a FrameRule is the same row
// reduced to 8 bytes for the rules ordinary compiled code uses (the CFA is rsp or rbp plus an
// offset, or read back through rbp in a frame that realigns its stack through a DRAP
// register; the return address and the saved rbp at fixed offsets), which the fast walk
// (stacks/unwind.h) caches per return address. A frame built with frame pointers is simply
// "CFA = rbp + 16, rbp saved at CFA - 16". Rows the FrameRule cannot express are `unsupported`
// and go to the DWARF walker.
#pragma once

#include <cstdint>

namespace measure::detail {

/// DWARF register numbers on x86-64 that the walkers name.
enum DwarfRegister : std::uint8_t { reg_rbp = 6, reg_rsp = 7, reg_ra = 16, register_count = 17 };

/// The unwind rule at one return address, in 8 bytes.
struct FrameRule {
  enum Kind : std::uint8_t {
    none = 0,         // not computed (the rule cache's empty value)
    standard = 1,     // step with the fields below
    outermost = 2,    // the return address is undefined: the first frame of the thread
    unsupported = 3,  // a rule this form cannot express: the DWARF walker applies the row
    no_tables = 4,    // no unwind tables cover the address (JIT code, stripped tables)
    drap = 5,         // CFA read from rbp + cfa_offset; saved rbp at rbp + 8 * rbp_slot
    uncovered = 6,    // the module has tables, but no entry covers the address (not a call site)
  };
  std::int32_t cfa_offset;
  Kind kind;
  std::uint8_t cfa_from_rbp;  // standard: 1: CFA = rbp + cfa_offset; 0: CFA = rsp + cfa_offset
  std::int8_t ra_slot;        // return address at CFA + 8 * ra_slot
  std::int8_t rbp_slot;       // standard: saved rbp at CFA + 8 * rbp_slot, 0: not saved (unchanged)
};
static_assert(sizeof(FrameRule) == 8);

/// One register's rule in a row (DWARF's register rules), or the CFA's.
struct RegisterRule {
  enum Kind : std::uint8_t {
    unchanged = 0,            // same value (also "unspecified": callee-saved registers keep theirs)
    undefined = 1,            // no value (the return address of the outermost frame)
    saved_at_offset = 2,      // saved at CFA + offset
    offset_value = 3,         // the value is CFA + offset
    register_value = 4,       // the value of register `reg` (+ offset, for the CFA)
    saved_at_expression = 5,  // saved at the address the expression computes (CFA pushed first)
    expression_value = 6,     // the value the expression computes (the CFA's own: nothing pushed)
  };
  std::int64_t offset;
  const std::uint8_t* expression;  // DWARF expression bytes, in the module's mapped tables
  std::uint32_t expression_size;
  Kind kind;
  std::uint8_t reg;
};

/// A whole row of a module's unwind table.
struct FrameRow {
  RegisterRule cfa;                        // register_value (reg + offset) or expression_value
  RegisterRule registers[register_count];  // index: DWARF register number; reg_ra: the return address
  bool signal_frame;                       // the row is a signal frame's: its caller's address is exact
};

/// What the tables say about an address.
enum class RowLookup : std::uint8_t {
  found,      // the row is filled in
  uncovered,  // no entry covers the address
  broken,     // an entry covers it but cannot be read (unknown instructions or augmentations)
};

/// The row that holds at `pc` according to the .eh_frame_hdr at `eh_frame_hdr` (as mapped in
/// memory). Reads only the tables. Uses about 3 KiB of stack.
RowLookup row_from_tables(std::uintptr_t eh_frame_hdr, std::uintptr_t pc, FrameRow* row) noexcept;

/// The rule that holds at `pc` (a call instruction's address: return address - 1).
FrameRule rule_from_tables(std::uintptr_t eh_frame_hdr, std::uintptr_t pc) noexcept;

}  // namespace measure::detail
