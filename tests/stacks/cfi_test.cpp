// The CFI reader (stacks/cfi.h) on unwind tables built byte by byte as a linker lays them
// out: an .eh_frame_hdr with its search table, then .eh_frame's CIEs and FDEs. Each case
// names the rows and the cached rules it expects at given addresses, and every malformed
// table is refused as broken (the fast walk's `unsupported`) without reading past it.
#include "stacks/cfi.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace measure::detail {
namespace {

using Bytes = std::vector<std::uint8_t>;

// DWARF call frame instructions (DW_CFA_*) and expression operations (DW_OP_*).
constexpr std::uint8_t cfa_nop = 0x00;
constexpr std::uint8_t cfa_set_loc = 0x01;
constexpr std::uint8_t cfa_advance_loc1 = 0x02;
constexpr std::uint8_t cfa_advance_loc2 = 0x03;
constexpr std::uint8_t cfa_advance_loc4 = 0x04;
constexpr std::uint8_t cfa_undefined = 0x07;
constexpr std::uint8_t cfa_register = 0x09;
constexpr std::uint8_t cfa_remember_state = 0x0a;
constexpr std::uint8_t cfa_restore_state = 0x0b;
constexpr std::uint8_t cfa_def_cfa = 0x0c;
constexpr std::uint8_t cfa_def_cfa_register = 0x0d;
constexpr std::uint8_t cfa_def_cfa_offset = 0x0e;
constexpr std::uint8_t cfa_def_cfa_expression = 0x0f;
constexpr std::uint8_t cfa_expression = 0x10;
constexpr std::uint8_t cfa_offset_extended_sf = 0x11;
constexpr std::uint8_t cfa_def_cfa_sf = 0x12;
constexpr std::uint8_t cfa_val_offset = 0x14;
constexpr std::uint8_t cfa_gnu_args_size = 0x2e;
constexpr std::uint8_t op_breg6 = 0x76;  // rbp + sleb
constexpr std::uint8_t op_breg7 = 0x77;  // rsp + sleb
constexpr std::uint8_t op_deref = 0x06;

constexpr std::uint8_t advance(std::uint8_t delta) {
  return static_cast<std::uint8_t>(0x40 | delta);
}
constexpr std::uint8_t offset(std::uint8_t reg) {
  return static_cast<std::uint8_t>(0x80 | reg);
}
constexpr std::uint8_t restore(std::uint8_t reg) {
  return static_cast<std::uint8_t>(0xc0 | reg);
}

constexpr std::uint8_t reg_rbx = 3;
constexpr std::uint8_t reg_r10 = 10;

// Pointer encodings (DW_EH_PE_*).
constexpr std::uint8_t pe_udata4 = 0x03;
constexpr std::uint8_t pe_pcrel_sdata4 = 0x1b;
constexpr std::uint8_t pe_datarel_sdata4 = 0x3b;

// What every x86-64 CIE starts a function with: CFA = rsp + 8, return address at CFA - 8.
const Bytes standard_initial = {cfa_def_cfa, reg_rsp, 8, offset(reg_ra), 1};

struct CieSpec {
  std::string augmentation = "zR";
  std::uint8_t version = 1;
  std::uint8_t code_align = 1;
  std::uint8_t data_align = 0x78;  // sleb -8
  Bytes augmentation_data = {pe_pcrel_sdata4};
  Bytes initial = standard_initial;
};

// Unwind tables as a linker lays them out: .eh_frame_hdr (version, encodings, a pointer to
// .eh_frame, the FDE count and the sorted search table), then .eh_frame, in one buffer. Every
// pointer is relative (pc-relative in .eh_frame, header-relative in the table), so the code the
// FDEs describe is given as offsets from a point past the tables and never read; finish()
// copies the tables into an allocation of exactly their size, which is what the reader gets.
class Tables {
 public:
  static constexpr std::size_t max_fdes = 16;
  static constexpr std::size_t header_room = 12 + 8 * max_fdes;
  static constexpr std::uint32_t code_distance = 0x10000;

  Tables() : m_bytes(header_room, 0) {}

  /// Appends a CIE; returns its offset for fde().
  std::size_t cie(const CieSpec& spec) {
    Bytes body = {0, 0, 0, 0, spec.version};  // CIE id 0, version
    body.insert(body.end(), spec.augmentation.begin(), spec.augmentation.end());
    body.push_back(0);
    body.push_back(spec.code_align);
    body.push_back(spec.data_align);
    body.push_back(reg_ra);  // version 1: the return address column is one byte
    if (!spec.augmentation.empty() && spec.augmentation[0] == 'z') {
      body.push_back(static_cast<std::uint8_t>(spec.augmentation_data.size()));
      body.insert(body.end(), spec.augmentation_data.begin(), spec.augmentation_data.end());
    }
    body.insert(body.end(), spec.initial.begin(), spec.initial.end());
    return entry(body);
  }

  /// Appends an FDE of CIE `cie` covering code [begin, begin + range), encoded pc-relative.
  std::size_t fde(std::size_t cie, std::uint32_t begin, std::uint32_t range, const Bytes& instructions,
                  const Bytes& augmentation_data = {}) {
    std::size_t at = m_bytes.size();
    Bytes body(12, 0);
    put32(body, 0, static_cast<std::uint32_t>(at + 4 - cie));                      // CIE pointer: back from this field
    put32(body, 4, static_cast<std::uint32_t>(code_distance + begin - (at + 8)));  // pc-relative begin
    put32(body, 8, range);
    body.push_back(static_cast<std::uint8_t>(augmentation_data.size()));
    body.insert(body.end(), augmentation_data.begin(), augmentation_data.end());
    body.insert(body.end(), instructions.begin(), instructions.end());
    m_index.push_back({begin, at});
    return entry(body);
  }

  /// Appends bytes as they are (a malformed entry), listed in the search table at code `begin`.
  void raw(std::uint32_t begin, const Bytes& bytes) {
    m_index.push_back({begin, m_bytes.size()});
    m_bytes.insert(m_bytes.end(), bytes.begin(), bytes.end());
  }

  /// Writes the header and, when `terminate`, the zero terminator; the tables are final.
  void finish(bool terminate = true) {
    REQUIRE(m_index.size() <= max_fdes);
    if (terminate) {
      m_bytes.insert(m_bytes.end(), 4, 0);
    }
    std::sort(m_index.begin(), m_index.end(), [](const Indexed& a, const Indexed& b) { return a.begin < b.begin; });
    m_bytes[0] = 1;  // version
    m_bytes[1] = pe_pcrel_sdata4;
    m_bytes[2] = pe_udata4;
    m_bytes[3] = pe_datarel_sdata4;
    put32(m_bytes, 4, static_cast<std::uint32_t>(header_room - 4));  // .eh_frame, after the header
    put32(m_bytes, 8, static_cast<std::uint32_t>(m_index.size()));
    for (std::size_t i = 0; i < m_index.size(); ++i) {
      put32(m_bytes, 12 + 8 * i, code_distance + m_index[i].begin);
      put32(m_bytes, 16 + 8 * i, static_cast<std::uint32_t>(m_index[i].offset));
    }
    m_final = std::make_unique<std::uint8_t[]>(m_bytes.size());
    std::memcpy(m_final.get(), m_bytes.data(), m_bytes.size());
  }

  /// Bytes written so far: the offset of the next entry.
  std::size_t size() const { return m_bytes.size(); }
  /// The header's address (what the loader reports as the module's eh_frame_hdr).
  std::uintptr_t hdr() const { return reinterpret_cast<std::uintptr_t>(m_final.get()); }
  /// The run-time address of code offset `at`.
  std::uintptr_t pc(std::uint32_t at) const { return hdr() + code_distance + at; }
  /// The address of byte `at` of the tables.
  const std::uint8_t* byte(std::size_t at) const { return m_final.get() + at; }
  /// Sets a header byte after finish() (a header the reader must refuse).
  void patch_header(std::size_t at, std::uint8_t value) { m_final[at] = value; }

 private:
  struct Indexed {
    std::uint32_t begin;
    std::size_t offset;
  };

  static void put32(Bytes& bytes, std::size_t at, std::uint32_t value) { std::memcpy(&bytes[at], &value, 4); }

  // A length-prefixed entry, padded with DW_CFA_nop to a multiple of 4 as linkers do.
  std::size_t entry(Bytes body) {
    while (body.size() % 4 != 0) {
      body.push_back(cfa_nop);
    }
    std::size_t at = m_bytes.size();
    Bytes length(4, 0);
    put32(length, 0, static_cast<std::uint32_t>(body.size()));
    m_bytes.insert(m_bytes.end(), length.begin(), length.end());
    m_bytes.insert(m_bytes.end(), body.begin(), body.end());
    return at;
  }

  Bytes m_bytes;
  std::vector<Indexed> m_index;
  std::unique_ptr<std::uint8_t[]> m_final;
};

FrameRow row_at(const Tables& t, std::uint32_t at) {
  FrameRow row{};
  REQUIRE(row_from_tables(t.hdr(), t.pc(at), &row) == RowLookup::found);
  return row;
}

RowLookup lookup(const Tables& t, std::uint32_t at) {
  FrameRow row{};
  return row_from_tables(t.hdr(), t.pc(at), &row);
}

// The fields of a rule that its kind uses (the others 0): compared and printed where a test
// names it.
struct Rule {
  FrameRule::Kind kind;
  std::int32_t cfa_offset = 0;
  std::uint8_t cfa_from_rbp = 0;
  std::int8_t ra_slot = 0;
  std::int8_t rbp_slot = 0;
  friend bool operator==(const Rule&, const Rule&) = default;
};

std::ostream& operator<<(std::ostream& out, const Rule& r) {
  return out << "{kind " << int{r.kind} << ", cfa " << (r.cfa_from_rbp != 0 ? "rbp" : "rsp") << " + " << r.cfa_offset
             << ", ra slot " << int{r.ra_slot} << ", rbp slot " << int{r.rbp_slot} << "}";
}

Rule rule_at(const Tables& t, std::uint32_t at) {
  FrameRule f = rule_from_tables(t.hdr(), t.pc(at));
  if (f.kind != FrameRule::standard && f.kind != FrameRule::drap) {
    return Rule{f.kind};
  }
  return Rule{f.kind, f.cfa_offset, f.cfa_from_rbp, f.ra_slot, f.rbp_slot};
}

// Where an FDE's instructions start when it has no augmentation data: after its length, CIE
// pointer, begin, range and the augmentation data's length.
constexpr std::size_t fde_instructions = 4 + 12 + 1;

const Rule unsupported{FrameRule::unsupported};
const Rule uncovered{FrameRule::uncovered};

// Call frame instructions in groups, one per change of the row, each with its comment.
Bytes program(std::initializer_list<Bytes> groups) {
  Bytes all;
  for (const Bytes& g : groups) {
    all.insert(all.end(), g.begin(), g.end());
  }
  return all;
}

// A function built with frame pointers, as GCC describes it at -O0:
//   0: push rbp   1: mov rbp, rsp   4: ... body ...   0x30: leave   0x31: ret
const Bytes frame_pointer_function = program({
    {advance(1), cfa_def_cfa_offset, 16, offset(reg_rbp), 2},  // 1: CFA = rsp + 16, rbp at CFA - 16
    {advance(3), cfa_def_cfa_register, reg_rbp},               // 4: CFA = rbp + 16
    {advance(0x2d), cfa_def_cfa, reg_rsp, 8},                  // 0x31: CFA = rsp + 8
});

}  // namespace

TEST_CASE("cfi: a frame-pointer function, row by row through advance_loc") {
  Tables t;
  std::size_t cie = t.cie({});
  t.fde(cie, 0x100, 0x32, frame_pointer_function);
  t.finish();

  FrameRow entry = row_at(t, 0x100);
  CHECK(entry.cfa.kind == RegisterRule::register_value);
  CHECK(entry.cfa.reg == reg_rsp);
  CHECK(entry.cfa.offset == 8);
  CHECK(entry.registers[reg_ra].kind == RegisterRule::saved_at_offset);
  CHECK(entry.registers[reg_ra].offset == -8);
  CHECK(entry.registers[reg_rbp].kind == RegisterRule::unchanged);
  CHECK_FALSE(entry.signal_frame);
  CHECK(rule_at(t, 0x100) == Rule{FrameRule::standard, 8, 0, -1, 0});

  FrameRow pushed = row_at(t, 0x101);
  CHECK(pushed.cfa.reg == reg_rsp);
  CHECK(pushed.cfa.offset == 16);
  CHECK(pushed.registers[reg_rbp].kind == RegisterRule::saved_at_offset);
  CHECK(pushed.registers[reg_rbp].offset == -16);
  CHECK(rule_at(t, 0x101) == Rule{FrameRule::standard, 16, 0, -1, -2});
  CHECK(rule_at(t, 0x103) == Rule{FrameRule::standard, 16, 0, -1, -2});  // the row holds until the next advance

  FrameRow body = row_at(t, 0x104);
  CHECK(body.cfa.reg == reg_rbp);
  CHECK(body.cfa.offset == 16);
  CHECK(rule_at(t, 0x104) == Rule{FrameRule::standard, 16, 1, -1, -2});
  CHECK(rule_at(t, 0x130) == Rule{FrameRule::standard, 16, 1, -1, -2});

  // After leave rbp is restored, but the FDE leaves its rule as it was: only the CFA changes.
  CHECK(rule_at(t, 0x131) == Rule{FrameRule::standard, 8, 0, -1, -2});

  // Outside the FDE: before the first entry, and at its end (the range is half-open).
  CHECK(lookup(t, 0xff) == RowLookup::uncovered);
  CHECK(lookup(t, 0x132) == RowLookup::uncovered);
  CHECK(rule_at(t, 0x132) == uncovered);
}

TEST_CASE("cfi: the search table picks the FDE of each address; gaps between them are uncovered") {
  Tables t;
  std::size_t cie = t.cie({});
  // Written out of address order: the header's table is sorted, .eh_frame need not be.
  t.fde(cie, 0x300, 0x20, {advance(4), cfa_def_cfa_offset, 48});
  t.fde(cie, 0x100, 0x20, {advance(1), cfa_def_cfa_offset, 16});
  t.fde(cie, 0x200, 0x20, {advance(2), cfa_def_cfa_offset, 32});
  t.finish();
  CHECK(rule_at(t, 0x101) == Rule{FrameRule::standard, 16, 0, -1, 0});
  CHECK(rule_at(t, 0x202) == Rule{FrameRule::standard, 32, 0, -1, 0});
  CHECK(rule_at(t, 0x201) == Rule{FrameRule::standard, 8, 0, -1, 0});
  CHECK(rule_at(t, 0x31f) == Rule{FrameRule::standard, 48, 0, -1, 0});
  CHECK(lookup(t, 0x120) == RowLookup::uncovered);
  CHECK(lookup(t, 0x1ff) == RowLookup::uncovered);
  CHECK(lookup(t, 0x320) == RowLookup::uncovered);
  CHECK(lookup(t, 0) == RowLookup::uncovered);
}

TEST_CASE("cfi: advance_loc1, 2 and 4 and set_loc scale by the code alignment factor") {
  Tables t;
  CieSpec spec;
  spec.code_align = 4;
  std::size_t cie = t.cie(spec);
  // 0x1000 bytes of code: advances of 1 * 4, 0x10 * 4 (advance_loc1), 0x100 * 4 (advance_loc2),
  // 0x40 * 4 (advance_loc4), then set_loc to an absolute (pc-relative encoded) address.
  Bytes instructions = {advance(1),
                        cfa_def_cfa_offset,
                        16,
                        cfa_advance_loc1,
                        0x10,
                        cfa_def_cfa_offset,
                        24,
                        cfa_advance_loc2,
                        0x00,
                        0x01,
                        cfa_def_cfa_offset,
                        32,
                        cfa_advance_loc4,
                        0x40,
                        0,
                        0,
                        0,
                        cfa_def_cfa_offset,
                        40};
  t.fde(cie, 0x1000, 0x1000, instructions);
  t.finish();
  CHECK(rule_at(t, 0x1003) == Rule{FrameRule::standard, 8, 0, -1, 0});
  CHECK(rule_at(t, 0x1004) == Rule{FrameRule::standard, 16, 0, -1, 0});
  CHECK(rule_at(t, 0x1043) == Rule{FrameRule::standard, 16, 0, -1, 0});
  CHECK(rule_at(t, 0x1044) == Rule{FrameRule::standard, 24, 0, -1, 0});
  CHECK(rule_at(t, 0x1443) == Rule{FrameRule::standard, 24, 0, -1, 0});
  CHECK(rule_at(t, 0x1444) == Rule{FrameRule::standard, 32, 0, -1, 0});
  CHECK(rule_at(t, 0x1543) == Rule{FrameRule::standard, 32, 0, -1, 0});
  CHECK(rule_at(t, 0x1544) == Rule{FrameRule::standard, 40, 0, -1, 0});
  CHECK(rule_at(t, 0x1fff) == Rule{FrameRule::standard, 40, 0, -1, 0});
}

TEST_CASE("cfi: set_loc moves to an address encoded as the CIE says (pc-relative)") {
  Tables t;
  std::size_t cie = t.cie({});
  // The operand is relative to its own position: the FDE's length, CIE pointer, begin and
  // range, the augmentation length, then three instruction bytes and the set_loc opcode.
  std::size_t operand_at = t.size() + fde_instructions + 4;
  auto operand = static_cast<std::uint32_t>(Tables::code_distance + 0x480 - operand_at);
  Bytes instructions = {advance(1), cfa_def_cfa_offset, 16, cfa_set_loc, 0, 0, 0, 0, cfa_def_cfa_offset, 64};
  std::memcpy(&instructions[4], &operand, 4);
  t.fde(cie, 0x400, 0x100, instructions);
  t.finish();
  CHECK(rule_at(t, 0x400) == Rule{FrameRule::standard, 8, 0, -1, 0});
  CHECK(rule_at(t, 0x47f) == Rule{FrameRule::standard, 16, 0, -1, 0});
  CHECK(rule_at(t, 0x480) == Rule{FrameRule::standard, 64, 0, -1, 0});
}

TEST_CASE("cfi: remember_state and restore_state around an early return's epilogue") {
  // GCC at -O2 for a function that pushes rbx and returns from the middle:
  //   0: push rbx  1: ... 0x10: pop rbx  0x11: ret  0x12: (the other path, rbx still pushed) ... 0x20
  Tables t;
  std::size_t cie = t.cie({});
  t.fde(cie, 0x500, 0x20,
        {advance(1), cfa_def_cfa_offset, 16, offset(reg_rbx), 2,                      // rbx at CFA - 16
         advance(0x10), cfa_remember_state, cfa_def_cfa_offset, 8, restore(reg_rbx),  // 0x11: after pop rbx
         advance(1), cfa_restore_state});                                             // 0x12: after ret
  t.finish();
  FrameRow body = row_at(t, 0x508);
  CHECK(body.cfa.offset == 16);
  CHECK(body.registers[reg_rbx].kind == RegisterRule::saved_at_offset);
  CHECK(body.registers[reg_rbx].offset == -16);
  FrameRow popped = row_at(t, 0x511);
  CHECK(popped.cfa.offset == 8);
  CHECK(popped.registers[reg_rbx].kind == RegisterRule::unchanged);
  FrameRow restored = row_at(t, 0x512);
  CHECK(restored.cfa.reg == reg_rsp);
  CHECK(restored.cfa.offset == 16);
  CHECK(restored.registers[reg_rbx].kind == RegisterRule::saved_at_offset);
  CHECK(restored.registers[reg_rbx].offset == -16);
  CHECK(rule_at(t, 0x511) == Rule{FrameRule::standard, 8, 0, -1, 0});
  CHECK(rule_at(t, 0x51f) == Rule{FrameRule::standard, 16, 0, -1, 0});
}

TEST_CASE("cfi: eight nested remember_states are read, a ninth or an unmatched restore is broken") {
  Bytes eight(8, cfa_remember_state);
  Bytes nine(9, cfa_remember_state);
  Tables t;
  std::size_t cie = t.cie({});
  Bytes deep = eight;
  deep.insert(deep.end(), {cfa_def_cfa_offset, 72, advance(1)});
  deep.insert(deep.end(), 8, cfa_restore_state);
  t.fde(cie, 0x100, 0x10, deep);
  t.fde(cie, 0x200, 0x10, nine);
  t.fde(cie, 0x300, 0x10, {cfa_restore_state});
  t.finish();
  CHECK(rule_at(t, 0x100) == Rule{FrameRule::standard, 72, 0, -1, 0});
  CHECK(rule_at(t, 0x101) == Rule{FrameRule::standard, 8, 0, -1, 0});
  CHECK(lookup(t, 0x200) == RowLookup::broken);
  CHECK(rule_at(t, 0x200) == unsupported);
  CHECK(lookup(t, 0x300) == RowLookup::broken);
}

TEST_CASE("cfi: a DRAP frame's CFA expression and saved rbp become the cached drap rule") {
  // GCC's realigning prologue: lea r10, [rsp+8]; and rsp, -64; push [r10-8]; push rbp;
  // mov rbp, rsp; push r10. While r10 holds the CFA the row names another register (the
  // DWARF walker's), then "rbp saved at rbp + 0, CFA = *(rbp - 8)" (the fast walk's).
  Tables t;
  std::size_t cie = t.cie({});
  std::size_t fde_at =
      t.fde(cie, 0x600, 0x80,
            program({
                {advance(5), cfa_def_cfa, reg_r10, 0},                       // 5: lea r10, [rsp+8]
                {advance(0xb), cfa_expression, reg_rbp, 2, op_breg6, 0,      // 0x10: push rbp; mov rbp, rsp
                 cfa_def_cfa_expression, 3, op_breg6, 0x78, op_deref},       // CFA = *(rbp - 8)
                {advance(0x30), cfa_def_cfa, reg_r10, 0, restore(reg_rbp)},  // 0x40: leave
                {advance(0x8), cfa_def_cfa, reg_rsp, 8},                     // 0x48: lea rsp, [r10-8]
            }));
  t.finish();
  FrameRow realigning = row_at(t, 0x605);
  CHECK(realigning.cfa.kind == RegisterRule::register_value);
  CHECK(realigning.cfa.reg == reg_r10);
  CHECK(realigning.cfa.offset == 0);
  CHECK(rule_at(t, 0x605) == unsupported);

  FrameRow body = row_at(t, 0x620);
  CHECK(body.cfa.kind == RegisterRule::expression_value);
  CHECK(body.cfa.expression_size == 3);
  // The expression stays in the tables, in the FDE's instructions after the block's length.
  CHECK(body.cfa.expression == t.byte(fde_at + fde_instructions + 12));
  CHECK(body.registers[reg_rbp].kind == RegisterRule::saved_at_expression);
  CHECK(body.registers[reg_rbp].expression_size == 2);
  CHECK(body.registers[reg_ra].kind == RegisterRule::saved_at_offset);
  CHECK(body.registers[reg_ra].offset == -8);
  CHECK(rule_at(t, 0x610) == Rule{FrameRule::drap, -8, 0, -1, 0});
  CHECK(rule_at(t, 0x63f) == Rule{FrameRule::drap, -8, 0, -1, 0});
  CHECK(rule_at(t, 0x640) == unsupported);
  CHECK(rule_at(t, 0x648) == Rule{FrameRule::standard, 8, 0, -1, 0});
}

TEST_CASE("cfi: CFA expressions other than a DRAP frame's are left to the DWARF walker") {
  struct Case {
    const char* name;
    Bytes cfa;  // the DW_CFA_def_cfa_expression block
  };
  const Case cases[] = {
      {"rsp-based", {op_breg7, 8, op_deref}},
      {"rbp-based without a dereference", {op_breg6, 0x78}},
      {"an offset that is not whole words", {op_breg6, 0x7c, op_deref}},
      {"a longer expression", {op_breg6, 0x78, op_deref, op_deref}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Tables t;
    std::size_t cie = t.cie({});
    Bytes instructions = {
        cfa_expression, reg_rbp, 2, op_breg6, 0, cfa_def_cfa_expression, static_cast<std::uint8_t>(c.cfa.size())};
    instructions.insert(instructions.end(), c.cfa.begin(), c.cfa.end());
    t.fde(cie, 0x100, 0x10, instructions);
    t.finish();
    FrameRow row = row_at(t, 0x100);
    CHECK(row.cfa.kind == RegisterRule::expression_value);
    CHECK(row.cfa.expression_size == c.cfa.size());
    CHECK(rule_at(t, 0x100) == unsupported);
  }
}

TEST_CASE("cfi: the outermost frame, a signal frame, and rules the cached form cannot hold") {
  Tables t;
  std::size_t cie = t.cie({});
  CieSpec signal;
  signal.augmentation = "zRS";
  std::size_t signal_cie = t.cie(signal);
  t.fde(cie, 0x100, 0x10, {cfa_undefined, reg_ra});                          // _start: no caller
  t.fde(signal_cie, 0x200, 0x10, {});                                        // a signal trampoline
  t.fde(cie, 0x300, 0x10, {cfa_register, reg_ra, reg_rbx});                  // return address in rbx
  t.fde(cie, 0x400, 0x10, {cfa_def_cfa, reg_rbx, 16});                       // CFA from another register
  t.fde(cie, 0x500, 0x10, {cfa_val_offset, reg_rbp, 2});                     // rbp = CFA - 16, a value
  t.fde(cie, 0x600, 0x10, {cfa_offset_extended_sf, reg_rbp, 0x7f});          // rbp saved at CFA + (-1 * -8)
  t.fde(cie, 0x700, 0x10, {cfa_def_cfa_sf, reg_rsp, 0x7e});                  // CFA = rsp + (-2 * -8)
  t.fde(cie, 0x800, 0x10, {cfa_gnu_args_size, 16, cfa_def_cfa_offset, 24});  // args size: skipped
  t.finish();

  CHECK(rule_at(t, 0x100) == Rule{FrameRule::outermost});
  CHECK(row_at(t, 0x100).registers[reg_ra].kind == RegisterRule::undefined);

  FrameRow trampoline = row_at(t, 0x200);
  CHECK(trampoline.signal_frame);
  CHECK(rule_at(t, 0x200) == unsupported);

  FrameRow in_register = row_at(t, 0x300);
  CHECK(in_register.registers[reg_ra].kind == RegisterRule::register_value);
  CHECK(in_register.registers[reg_ra].reg == reg_rbx);
  CHECK(rule_at(t, 0x300) == unsupported);

  FrameRow other_cfa = row_at(t, 0x400);
  CHECK(other_cfa.cfa.reg == reg_rbx);
  CHECK(other_cfa.cfa.offset == 16);
  CHECK(rule_at(t, 0x400) == unsupported);

  FrameRow value = row_at(t, 0x500);
  CHECK(value.registers[reg_rbp].kind == RegisterRule::offset_value);
  CHECK(value.registers[reg_rbp].offset == -16);
  CHECK(rule_at(t, 0x500) == unsupported);

  FrameRow above = row_at(t, 0x600);
  CHECK(above.registers[reg_rbp].kind == RegisterRule::saved_at_offset);
  CHECK(above.registers[reg_rbp].offset == 8);
  CHECK(rule_at(t, 0x600) == Rule{FrameRule::standard, 8, 0, -1, 1});

  CHECK(rule_at(t, 0x700) == Rule{FrameRule::standard, 16, 0, -1, 0});
  CHECK(rule_at(t, 0x800) == Rule{FrameRule::standard, 24, 0, -1, 0});
}

TEST_CASE("cfi: personality and LSDA augmentations are read past; the FDE's augmentation data skipped") {
  Tables t;
  CieSpec spec;
  spec.augmentation = "zPLR";
  // P: encoding udata4 and a 4-byte personality pointer; L: the LSDA encoding; R: the FDE encoding.
  spec.augmentation_data = {pe_udata4, 0x78, 0x56, 0x34, 0x12, pe_pcrel_sdata4, pe_pcrel_sdata4};
  std::size_t cie = t.cie(spec);
  t.fde(cie, 0x100, 0x20, {advance(1), cfa_def_cfa_offset, 16, offset(reg_rbp), 2}, {0xaa, 0xbb, 0xcc, 0xdd});
  t.finish();
  CHECK(rule_at(t, 0x101) == Rule{FrameRule::standard, 16, 0, -1, -2});
}

TEST_CASE("cfi: the CIE's return address column and initial instructions carry into every FDE") {
  Tables t;
  CieSpec spec;
  // A CIE that already describes a pushed rbp (as for hand-written assembly sharing a CIE).
  spec.initial = {cfa_def_cfa, reg_rsp, 16, offset(reg_ra), 1, offset(reg_rbp), 2};
  std::size_t cie = t.cie(spec);
  t.fde(cie, 0x100, 0x10, {advance(4), restore(reg_rbp), cfa_def_cfa_offset, 8});
  t.finish();
  CHECK(rule_at(t, 0x100) == Rule{FrameRule::standard, 16, 0, -1, -2});
  // DW_CFA_restore returns rbp to the CIE's rule, not to "unchanged".
  CHECK(rule_at(t, 0x104) == Rule{FrameRule::standard, 8, 0, -1, -2});
}

TEST_CASE("cfi: malformed and truncated tables are refused as broken, never read past") {
  auto fde_bytes = [](std::uint32_t length, std::uint32_t cie_pointer, const Bytes& rest) {
    Bytes b(8, 0);
    std::memcpy(&b[0], &length, 4);
    std::memcpy(&b[4], &cie_pointer, 4);
    b.insert(b.end(), rest.begin(), rest.end());
    return b;
  };

  SUBCASE("an instruction cut off by the end of its entry") {
    // The last FDE of the tables, no terminator: its def_cfa lacks the offset operand, and the
    // allocation ends with the entry (a read past it is a sanitizer error).
    Tables t;
    std::size_t cie = t.cie({});
    t.fde(cie, 0x100, 0x10, {cfa_nop, cfa_def_cfa, reg_rsp});  // 16 bytes: no padding after it
    t.finish(false);
    CHECK(lookup(t, 0x100) == RowLookup::broken);
    CHECK(rule_at(t, 0x100) == unsupported);
  }
  SUBCASE("an expression block longer than its entry") {
    Tables t;
    std::size_t cie = t.cie({});
    t.fde(cie, 0x100, 0x10, {cfa_def_cfa_expression, 100, op_breg6, 0x78, op_deref});
    t.finish(false);
    CHECK(lookup(t, 0x100) == RowLookup::broken);
  }
  SUBCASE("an unknown call frame instruction") {
    Tables t;
    std::size_t cie = t.cie({});
    t.fde(cie, 0x100, 0x10, {0x20});
    t.finish();
    CHECK(lookup(t, 0x100) == RowLookup::broken);
    CHECK(rule_at(t, 0x100) == unsupported);
  }
  SUBCASE("an unknown augmentation, a pre-'z' one, an unknown version, a zero code alignment") {
    CieSpec unknown;
    unknown.augmentation = "zRX";
    CieSpec eh;
    eh.augmentation = "eh";
    CieSpec version;
    version.version = 2;
    CieSpec zero_align;
    zero_align.code_align = 0;
    for (const CieSpec* spec : {&unknown, &eh, &version, &zero_align}) {
      CAPTURE(spec->augmentation);
      CAPTURE(int{spec->version});
      Tables t;
      std::size_t cie = t.cie(*spec);
      t.fde(cie, 0x100, 0x10, {});
      t.finish();
      CHECK(lookup(t, 0x100) == RowLookup::broken);
    }
  }
  SUBCASE("an FDE whose CIE pointer is 0, or names an FDE instead of a CIE") {
    Tables t;
    std::size_t cie = t.cie({});
    std::size_t first = t.fde(cie, 0x100, 0x10, {});
    t.raw(0x200, fde_bytes(12, 0, {0, 0, 0, 0, 0x10, 0, 0, 0}));
    t.raw(0x300, fde_bytes(12, static_cast<std::uint32_t>(t.size() + 4 - first), {0, 0, 0, 0, 0x10, 0, 0, 0}));
    t.finish();
    CHECK(lookup(t, 0x100) == RowLookup::found);
    CHECK(lookup(t, 0x200) == RowLookup::broken);
    CHECK(lookup(t, 0x300) == RowLookup::broken);
  }
  SUBCASE("an FDE where the table expects one, with length 0 or past the bound on entries") {
    Tables t;
    t.cie({});
    t.raw(0x100, {0, 0, 0, 0});
    t.raw(0x200, {0x00, 0x00, 0x20, 0x00, 0, 0, 0, 0});  // 2 MiB: over the 1 MiB bound
    t.finish();
    CHECK(lookup(t, 0x100) == RowLookup::broken);
    CHECK(lookup(t, 0x200) == RowLookup::broken);
  }
  SUBCASE("a header of another version or with a table encoding that cannot be searched") {
    for (auto patch : {std::pair<std::size_t, std::uint8_t>{0, 2}, {3, pe_udata4}, {2, 0xff}}) {
      std::size_t at = patch.first;
      std::uint8_t value = patch.second;
      CAPTURE(at);
      Tables t;
      std::size_t cie = t.cie({});
      t.fde(cie, 0x100, 0x10, {});
      t.finish();
      CHECK(lookup(t, 0x100) == RowLookup::found);
      t.patch_header(at, value);
      CHECK(lookup(t, 0x100) == RowLookup::broken);
    }
  }
}

}  // namespace measure::detail
