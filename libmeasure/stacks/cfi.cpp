#include "stacks/cfi.h"

#include <cstring>

#include "stacks/dwarf_reader.h"

namespace measure::detail {
namespace {

// Pointer encodings (DW_EH_PE_*).
constexpr std::uint8_t pe_omit = 0xff;
constexpr std::uint8_t pe_datarel_sdata4 = 0x3b;

// Sanity bounds on what the tables may claim; a table outside them is treated as unsupported.
constexpr std::uint64_t max_entry_bytes = 1U << 20;
constexpr unsigned max_remembered = 8;
constexpr std::uint64_t max_expression_bytes = 1U << 12;

struct Cie {
  std::uint64_t code_align = 1;
  std::int64_t data_align = -8;
  std::uint64_t ra_reg = reg_ra;
  std::uint8_t fde_encoding = 0;
  bool augmented = false;  // 'z': FDEs carry augmentation data to skip
  bool signal_frame = false;
  const std::uint8_t* instructions = nullptr;
  const std::uint8_t* end = nullptr;
};

// An entry's extent: [*body, *end) after its length field. False for a terminator or a bad length.
bool entry_extent(const std::uint8_t* entry, const std::uint8_t** body, const std::uint8_t** end) noexcept {
  std::uint32_t length32 = 0;
  std::memcpy(&length32, entry, 4);
  std::uint64_t length = length32;
  const std::uint8_t* p = entry + 4;
  if (length32 == 0xffffffffU) {
    std::memcpy(&length, p, 8);
    p += 8;
  }
  if (length == 0 || length > max_entry_bytes) {
    return false;
  }
  *body = p;
  *end = p + length;
  return true;
}

bool parse_cie(const std::uint8_t* entry, Cie* cie) noexcept {
  const std::uint8_t* body = nullptr;
  const std::uint8_t* end = nullptr;
  if (!entry_extent(entry, &body, &end)) {
    return false;
  }
  Reader r(body, end);
  if (r.fixed<std::uint32_t>() != 0) {
    return false;  // not a CIE
  }
  std::uint8_t version = r.fixed<std::uint8_t>();
  if (version != 1 && version != 3) {
    return false;
  }
  const auto* augmentation = reinterpret_cast<const char*>(r.at());
  std::size_t aug_size = strnlen(augmentation, static_cast<std::size_t>(end - r.at()));
  r.skip(aug_size + 1);
  cie->code_align = r.uleb();
  cie->data_align = r.sleb();
  cie->ra_reg = version == 1 ? r.fixed<std::uint8_t>() : r.uleb();
  if (aug_size > 0 && augmentation[0] == 'z') {
    cie->augmented = true;
    std::uint64_t data_size = r.uleb();
    Reader data(r.at(), r.at() + (data_size <= static_cast<std::uint64_t>(end - r.at()) ? data_size : 0));
    for (std::size_t i = 1; i < aug_size; ++i) {
      switch (augmentation[i]) {
        case 'R':
          cie->fde_encoding = data.fixed<std::uint8_t>();
          break;
        case 'L':
          data.fixed<std::uint8_t>();
          break;
        case 'P': {
          std::uint8_t encoding = data.fixed<std::uint8_t>();
          std::uint64_t ignored = 0;
          if (!data.pointer(static_cast<std::uint8_t>(encoding & 0x7f), 0, false, &ignored)) {
            return false;
          }
          break;
        }
        case 'S':
          cie->signal_frame = true;
          break;
        default:
          return false;  // unknown augmentation: its data cannot be interpreted
      }
    }
    r.skip(data_size);
  } else if (aug_size > 0) {
    return false;  // "eh" and other pre-'z' augmentations
  }
  cie->instructions = r.at();
  cie->end = end;
  return r.ok() && cie->code_align != 0;
}

// The row as the CIE's initial instructions leave it: the CFA is rsp + 8, the return
// address at CFA - 8 (what every x86-64 CIE says; an empty CIE would leave it unspecified).
FrameRow empty_row() noexcept {
  FrameRow row{};
  row.cfa.kind = RegisterRule::register_value;
  row.cfa.reg = reg_rsp;
  row.cfa.offset = 8;
  return row;
}

// Rules are kept for the registers the walkers know; the CIE's return address column is kept
// as reg_ra whatever its number.
void set_rule(FrameRow& row, std::uint64_t reg, const RegisterRule& rule, std::uint64_t ra_reg) noexcept {
  if (reg == ra_reg) {
    row.registers[reg_ra] = rule;
  } else if (reg < reg_ra) {
    row.registers[reg] = rule;
  }
}

void restore_rule(FrameRow& row, std::uint64_t reg, const FrameRow& initial, std::uint64_t ra_reg) noexcept {
  std::uint64_t index = reg == ra_reg ? std::uint64_t{reg_ra} : reg;
  if (index < register_count) {
    set_rule(row, reg, initial.registers[index], ra_reg);
  }
}

RegisterRule at_offset(RegisterRule::Kind kind, std::int64_t offset) noexcept {
  RegisterRule rule{};
  rule.kind = kind;
  rule.offset = offset;
  return rule;
}

// A DW_CFA_*expression operand: a block, length first. The bytes stay in the mapped tables.
RegisterRule expression_rule(Reader& r, RegisterRule::Kind kind) noexcept {
  RegisterRule rule{};
  rule.kind = kind;
  std::uint64_t size = r.uleb();
  rule.expression = r.at();
  rule.expression_size = size <= max_expression_bytes ? static_cast<std::uint32_t>(size) : 0;
  r.skip(size);
  return rule;
}

void define_cfa(FrameRow& row, std::uint64_t reg, std::int64_t offset) noexcept {
  row.cfa = at_offset(RegisterRule::register_value, offset);
  row.cfa.reg = static_cast<std::uint8_t>(reg < 255 ? reg : 255);
}

// Runs CFA instructions until the row that covers `pc`. `initial` is the row after the CIE's
// instructions (for DW_CFA_restore); `loc` starts at the FDE's first address.
bool execute(Reader& r, const Cie& cie, const FrameRow& initial, std::uint64_t loc, std::uint64_t pc,
             FrameRow& s) noexcept {
  FrameRow remembered[max_remembered];
  unsigned depth = 0;
  while (!r.done()) {
    std::uint8_t op = r.fixed<std::uint8_t>();
    std::uint64_t reg = 0;
    switch (op & 0xc0) {
      case 0x40:
        loc += (op & 0x3f) * cie.code_align;
        if (loc > pc) {
          return r.ok();
        }
        continue;
      case 0x80:
        set_rule(s, op & 0x3f,
                 at_offset(RegisterRule::saved_at_offset, static_cast<std::int64_t>(r.uleb()) * cie.data_align),
                 cie.ra_reg);
        continue;
      case 0xc0:
        restore_rule(s, op & 0x3f, initial, cie.ra_reg);
        continue;
      default:
        break;
    }
    switch (op) {
      case 0x00:  // nop
        break;
      case 0x01: {  // set_loc
        std::uint64_t to = 0;
        if (!r.pointer(cie.fde_encoding, 0, true, &to)) {
          return false;
        }
        loc = to;
        if (loc > pc) {
          return r.ok();
        }
        break;
      }
      case 0x02:
      case 0x03:
      case 0x04: {  // advance_loc1/2/4
        std::uint64_t delta = op == 0x02   ? r.fixed<std::uint8_t>()
                              : op == 0x03 ? r.fixed<std::uint16_t>()
                                           : r.fixed<std::uint32_t>();
        loc += delta * cie.code_align;
        if (loc > pc) {
          return r.ok();
        }
        break;
      }
      case 0x05:  // offset_extended
        reg = r.uleb();
        set_rule(s, reg, at_offset(RegisterRule::saved_at_offset, static_cast<std::int64_t>(r.uleb()) * cie.data_align),
                 cie.ra_reg);
        break;
      case 0x06:  // restore_extended
        restore_rule(s, r.uleb(), initial, cie.ra_reg);
        break;
      case 0x07:  // undefined
        set_rule(s, r.uleb(), at_offset(RegisterRule::undefined, 0), cie.ra_reg);
        break;
      case 0x08:  // same_value
        set_rule(s, r.uleb(), at_offset(RegisterRule::unchanged, 0), cie.ra_reg);
        break;
      case 0x09: {  // register
        reg = r.uleb();
        RegisterRule rule = at_offset(RegisterRule::register_value, 0);
        std::uint64_t from = r.uleb();
        rule.reg = static_cast<std::uint8_t>(from == cie.ra_reg ? std::uint64_t{reg_ra} : from < 255 ? from : 255);
        set_rule(s, reg, rule, cie.ra_reg);
        break;
      }
      case 0x0a:  // remember_state
        if (depth == max_remembered) {
          return false;
        }
        remembered[depth++] = s;
        break;
      case 0x0b:  // restore_state
        if (depth == 0) {
          return false;
        }
        s = remembered[--depth];
        break;
      case 0x0c:  // def_cfa
        reg = r.uleb();
        define_cfa(s, reg, static_cast<std::int64_t>(r.uleb()));
        break;
      case 0x0d:  // def_cfa_register
        define_cfa(s, r.uleb(), s.cfa.kind == RegisterRule::register_value ? s.cfa.offset : 0);
        break;
      case 0x0e:  // def_cfa_offset
        s.cfa.offset = static_cast<std::int64_t>(r.uleb());
        break;
      case 0x0f:  // def_cfa_expression
        s.cfa = expression_rule(r, RegisterRule::expression_value);
        break;
      case 0x10:  // expression
        reg = r.uleb();
        set_rule(s, reg, expression_rule(r, RegisterRule::saved_at_expression), cie.ra_reg);
        break;
      case 0x11:  // offset_extended_sf
        reg = r.uleb();
        set_rule(s, reg, at_offset(RegisterRule::saved_at_offset, r.sleb() * cie.data_align), cie.ra_reg);
        break;
      case 0x12:  // def_cfa_sf
        reg = r.uleb();
        define_cfa(s, reg, r.sleb() * cie.data_align);
        break;
      case 0x13:  // def_cfa_offset_sf
        s.cfa.offset = r.sleb() * cie.data_align;
        break;
      case 0x14:  // val_offset
        reg = r.uleb();
        set_rule(s, reg, at_offset(RegisterRule::offset_value, static_cast<std::int64_t>(r.uleb()) * cie.data_align),
                 cie.ra_reg);
        break;
      case 0x15:  // val_offset_sf
        reg = r.uleb();
        set_rule(s, reg, at_offset(RegisterRule::offset_value, r.sleb() * cie.data_align), cie.ra_reg);
        break;
      case 0x16:  // val_expression
        reg = r.uleb();
        set_rule(s, reg, expression_rule(r, RegisterRule::expression_value), cie.ra_reg);
        break;
      case 0x2e:  // GNU_args_size
        r.uleb();
        break;
      case 0x2f:  // GNU_negative_offset_extended
        reg = r.uleb();
        set_rule(s, reg,
                 at_offset(RegisterRule::saved_at_offset, -static_cast<std::int64_t>(r.uleb()) * cie.data_align),
                 cie.ra_reg);
        break;
      default:
        return false;
    }
    if (!r.ok()) {
      return false;
    }
  }
  return r.ok();
}

FrameRule make_rule(FrameRule::Kind kind) noexcept {
  FrameRule rule{};
  rule.kind = kind;
  return rule;
}

// The slot index of a CFA-relative offset, or 0 when it is not a whole, small, negative-or-
// positive number of words (0 itself is never a valid save slot: the CFA is the caller's
// stack pointer).
std::int8_t slot_of(std::int64_t offset) noexcept {
  if (offset % 8 != 0 || offset / 8 < -128 || offset / 8 > 127) {
    return 0;
  }
  return static_cast<std::int8_t>(offset / 8);
}

// `rule`'s expression is exactly DW_OP_breg6 (rbp) N, followed by DW_OP_deref when `deref`:
// N, or false.
bool rbp_plus(const RegisterRule& rule, bool deref, std::int64_t* n) noexcept {
  if (rule.expression_size == 0 || rule.expression[0] != 0x76) {
    return false;
  }
  Reader r(rule.expression + 1, rule.expression + rule.expression_size);
  *n = r.sleb();
  if (deref && r.fixed<std::uint8_t>() != 0x06) {
    return false;
  }
  return r.ok() && r.done();
}

// The row of a frame that realigns its stack through a DRAP register, at its call sites:
// "CFA = *(rbp + k)", "rbp saved at rbp + j" (GCC's form for an over-aligned frame with
// dynamic allocation, also with -fno-omit-frame-pointer).
FrameRule drap_rule(const FrameRow& row) noexcept {
  const RegisterRule& rbp = row.registers[reg_rbp];
  std::int64_t cfa_offset = 0;
  std::int64_t rbp_offset = 0;
  if (row.cfa.kind != RegisterRule::expression_value || rbp.kind != RegisterRule::saved_at_expression ||
      !rbp_plus(row.cfa, true, &cfa_offset) || !rbp_plus(rbp, false, &rbp_offset) || cfa_offset % 8 != 0 ||
      cfa_offset < INT8_MIN * 8 || cfa_offset > INT8_MAX * 8 || rbp_offset % 8 != 0 || rbp_offset < INT8_MIN * 8 ||
      rbp_offset > INT8_MAX * 8) {
    return make_rule(FrameRule::unsupported);
  }
  FrameRule rule = make_rule(FrameRule::drap);
  rule.cfa_offset = static_cast<std::int32_t>(cfa_offset);
  rule.ra_slot = slot_of(row.registers[reg_ra].offset);
  rule.rbp_slot = static_cast<std::int8_t>(rbp_offset / 8);
  return rule.ra_slot == 0 ? make_rule(FrameRule::unsupported) : rule;
}

FrameRule rule_from_row(const FrameRow& row) noexcept {
  const RegisterRule& ra = row.registers[reg_ra];
  const RegisterRule& rbp = row.registers[reg_rbp];
  if (ra.kind == RegisterRule::undefined) {
    return make_rule(FrameRule::outermost);
  }
  if (row.signal_frame || ra.kind != RegisterRule::saved_at_offset) {
    return make_rule(FrameRule::unsupported);
  }
  if (row.cfa.kind != RegisterRule::register_value) {
    return drap_rule(row);
  }
  if ((row.cfa.reg != reg_rsp && row.cfa.reg != reg_rbp) || row.cfa.offset < 8 || row.cfa.offset > INT32_MAX ||
      (rbp.kind != RegisterRule::unchanged && rbp.kind != RegisterRule::saved_at_offset &&
       rbp.kind != RegisterRule::undefined)) {
    return make_rule(FrameRule::unsupported);
  }
  FrameRule rule = make_rule(FrameRule::standard);
  rule.cfa_offset = static_cast<std::int32_t>(row.cfa.offset);
  rule.cfa_from_rbp = row.cfa.reg == reg_rbp ? 1 : 0;
  rule.ra_slot = slot_of(ra.offset);
  rule.rbp_slot = rbp.kind == RegisterRule::saved_at_offset ? slot_of(rbp.offset) : std::int8_t{0};
  if (rule.ra_slot == 0 || (rbp.kind == RegisterRule::saved_at_offset && rule.rbp_slot == 0)) {
    return make_rule(FrameRule::unsupported);
  }
  return rule;
}

// The FDE that may cover `pc`, by binary search in the header's sorted table; nullptr if none.
const std::uint8_t* find_fde(std::uintptr_t hdr, std::uintptr_t pc, bool* searchable) noexcept {
  const auto* h = reinterpret_cast<const std::uint8_t*>(hdr);
  *searchable = false;
  if (h[0] != 1) {
    return nullptr;
  }
  std::uint8_t eh_frame_encoding = h[1];
  std::uint8_t count_encoding = h[2];
  std::uint8_t table_encoding = h[3];
  Reader r(h + 4, h + 4 + 32);
  std::uint64_t eh_frame = 0;
  std::uint64_t count = 0;
  if (!r.pointer(eh_frame_encoding, hdr, true, &eh_frame) || count_encoding == pe_omit ||
      !r.pointer(count_encoding, hdr, true, &count) || table_encoding != pe_datarel_sdata4) {
    return nullptr;
  }
  *searchable = true;
  const std::uint8_t* table = r.at();
  std::int64_t target = static_cast<std::int64_t>(pc) - static_cast<std::int64_t>(hdr);
  std::uint64_t lo = 0;
  std::uint64_t hi = count;
  while (lo < hi) {  // the first entry whose start is past pc
    std::uint64_t mid = lo + (hi - lo) / 2;
    std::int32_t start = 0;
    std::memcpy(&start, table + mid * 8, 4);
    if (start <= target) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) {
    return nullptr;
  }
  std::int32_t fde = 0;
  std::memcpy(&fde, table + (lo - 1) * 8 + 4, 4);
  return reinterpret_cast<const std::uint8_t*>(hdr + static_cast<std::intptr_t>(fde));
}

}  // namespace

RowLookup row_from_tables(std::uintptr_t eh_frame_hdr, std::uintptr_t pc, FrameRow* row) noexcept {
  bool searchable = false;
  const std::uint8_t* fde = find_fde(eh_frame_hdr, pc, &searchable);
  if (fde == nullptr) {
    return searchable ? RowLookup::uncovered : RowLookup::broken;
  }
  const std::uint8_t* body = nullptr;
  const std::uint8_t* end = nullptr;
  if (!entry_extent(fde, &body, &end)) {
    return RowLookup::broken;
  }
  Reader r(body, end);
  std::uint32_t cie_pointer = r.fixed<std::uint32_t>();
  Cie cie;
  if (cie_pointer == 0 || !parse_cie(body - cie_pointer, &cie)) {
    return RowLookup::broken;
  }
  std::uint64_t begin = 0;
  std::uint64_t range = 0;
  if (!r.pointer(cie.fde_encoding, 0, true, &begin) || !r.pointer(cie.fde_encoding, 0, false, &range)) {
    return RowLookup::broken;
  }
  if (pc < begin || pc - begin >= range) {
    return RowLookup::uncovered;
  }
  if (cie.augmented) {
    r.skip(r.uleb());
  }
  *row = empty_row();
  Reader initial_program(cie.instructions, cie.end);
  if (!execute(initial_program, cie, *row, 0, UINT64_MAX, *row)) {
    return RowLookup::broken;
  }
  FrameRow initial = *row;
  if (!execute(r, cie, initial, begin, pc, *row)) {
    return RowLookup::broken;
  }
  row->signal_frame = cie.signal_frame;
  return RowLookup::found;
}

FrameRule rule_from_tables(std::uintptr_t eh_frame_hdr, std::uintptr_t pc) noexcept {
  FrameRow row;
  switch (row_from_tables(eh_frame_hdr, pc, &row)) {
    case RowLookup::found:
      return rule_from_row(row);
    case RowLookup::uncovered:
      return make_rule(FrameRule::uncovered);
    case RowLookup::broken:
      break;
  }
  return make_rule(FrameRule::unsupported);
}

}  // namespace measure::detail
