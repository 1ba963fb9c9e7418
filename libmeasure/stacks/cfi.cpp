#include "stacks/cfi.h"

#include <cstring>

namespace measure::detail {
namespace {

// DWARF register numbers on x86-64.
constexpr unsigned reg_rbp = 6;
constexpr unsigned reg_rsp = 7;
constexpr unsigned reg_ra = 16;

// Pointer encodings (DW_EH_PE_*).
constexpr std::uint8_t pe_omit = 0xff;
constexpr std::uint8_t pe_datarel_sdata4 = 0x3b;

// Sanity bounds on what the tables may claim; a table outside them is treated as unsupported.
constexpr std::uint64_t max_entry_bytes = 1U << 20;
constexpr unsigned max_remembered = 8;

class Reader {
 public:
  Reader(const std::uint8_t* p, const std::uint8_t* end) noexcept : m_p(p), m_end(end) {}

  bool ok() const noexcept { return m_ok; }
  bool done() const noexcept { return m_p >= m_end; }
  const std::uint8_t* at() const noexcept { return m_p; }
  void skip(std::uint64_t n) noexcept {
    if (n > static_cast<std::uint64_t>(m_end - m_p)) {
      m_ok = false;
      m_p = m_end;
      return;
    }
    m_p += n;
  }
  template <class T>
  T fixed() noexcept {
    T v{};
    if (static_cast<std::size_t>(m_end - m_p) < sizeof(T)) {
      m_ok = false;
      m_p = m_end;
      return v;
    }
    std::memcpy(&v, m_p, sizeof(T));
    m_p += sizeof(T);
    return v;
  }
  std::uint64_t uleb() noexcept {
    std::uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (m_p >= m_end) {
        m_ok = false;
        return 0;
      }
      std::uint8_t b = *m_p++;
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        return v;
      }
    }
    m_ok = false;
    return 0;
  }
  std::int64_t sleb() noexcept {
    std::uint64_t v = 0;
    unsigned shift = 0;
    std::uint8_t b = 0;
    do {
      if (m_p >= m_end || shift >= 64) {
        m_ok = false;
        return 0;
      }
      b = *m_p++;
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      shift += 7;
    } while ((b & 0x80) != 0);
    if (shift < 64 && (b & 0x40) != 0) {
      v |= ~std::uint64_t{0} << shift;
    }
    return static_cast<std::int64_t>(v);
  }
  /// A pointer in `encoding`; `data_base` for datarel. `apply` false: the value format only
  /// (an FDE's address range).
  bool pointer(std::uint8_t encoding, std::uintptr_t data_base, bool apply, std::uint64_t* out) noexcept {
    auto here = reinterpret_cast<std::uintptr_t>(m_p);
    std::uint64_t v = 0;
    switch (encoding & 0x0f) {
      case 0x00:
      case 0x04:
      case 0x0c:
        v = fixed<std::uint64_t>();
        break;
      case 0x01:
        v = uleb();
        break;
      case 0x02:
        v = fixed<std::uint16_t>();
        break;
      case 0x03:
        v = fixed<std::uint32_t>();
        break;
      case 0x09:
        v = static_cast<std::uint64_t>(sleb());
        break;
      case 0x0a:
        v = static_cast<std::uint64_t>(static_cast<std::int64_t>(fixed<std::int16_t>()));
        break;
      case 0x0b:
        v = static_cast<std::uint64_t>(static_cast<std::int64_t>(fixed<std::int32_t>()));
        break;
      default:
        return false;
    }
    if (apply) {
      switch (encoding & 0x70) {
        case 0x00:
          break;
        case 0x10:
          v += here;
          break;
        case 0x30:
          v += data_base;
          break;
        default:
          return false;  // textrel, funcrel, aligned: not produced for x86-64 Linux
      }
      if ((encoding & 0x80) != 0) {
        return false;  // indirect: only personality routines use it, and they are skipped
      }
    }
    *out = v;
    return m_ok;
  }

 private:
  const std::uint8_t* m_p;
  const std::uint8_t* m_end;
  bool m_ok = true;
};

// A register's rule as far as the unwinder cares.
struct RegRule {
  enum Kind : std::uint8_t { unchanged, undefined, saved, other } kind = unchanged;
  std::int64_t offset = 0;  // from the CFA, for `offset`
};

struct CfaState {
  unsigned cfa_reg = reg_rsp;
  std::int64_t cfa_offset = 8;
  bool cfa_expression = false;
  RegRule rbp;
  RegRule ra;
};

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

void set_rule(CfaState& s, std::uint64_t reg, RegRule rule, std::uint64_t ra_reg) noexcept {
  if (reg == reg_rbp) {
    s.rbp = rule;
  } else if (reg == ra_reg) {
    s.ra = rule;
  }
}

// Runs CFA instructions until the row that covers `pc`. `initial` is the state after the
// CIE's instructions (for DW_CFA_restore); `loc` starts at the FDE's first address.
bool execute(Reader& r, const Cie& cie, const CfaState& initial, std::uint64_t loc, std::uint64_t pc,
             CfaState& s) noexcept {
  CfaState remembered[max_remembered];
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
        set_rule(s, op & 0x3f, RegRule{RegRule::saved, static_cast<std::int64_t>(r.uleb()) * cie.data_align},
                 cie.ra_reg);
        continue;
      case 0xc0:
        reg = op & 0x3f;
        set_rule(s, reg, reg == reg_rbp ? initial.rbp : initial.ra, cie.ra_reg);
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
        set_rule(s, reg, RegRule{RegRule::saved, static_cast<std::int64_t>(r.uleb()) * cie.data_align}, cie.ra_reg);
        break;
      case 0x06:  // restore_extended
        reg = r.uleb();
        set_rule(s, reg, reg == reg_rbp ? initial.rbp : initial.ra, cie.ra_reg);
        break;
      case 0x07:  // undefined
        set_rule(s, r.uleb(), RegRule{RegRule::undefined, 0}, cie.ra_reg);
        break;
      case 0x08:  // same_value
        set_rule(s, r.uleb(), RegRule{RegRule::unchanged, 0}, cie.ra_reg);
        break;
      case 0x09:  // register
        reg = r.uleb();
        r.uleb();
        set_rule(s, reg, RegRule{RegRule::other, 0}, cie.ra_reg);
        break;
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
        s.cfa_reg = static_cast<unsigned>(r.uleb());
        s.cfa_offset = static_cast<std::int64_t>(r.uleb());
        s.cfa_expression = false;
        break;
      case 0x0d:  // def_cfa_register
        s.cfa_reg = static_cast<unsigned>(r.uleb());
        s.cfa_expression = false;
        break;
      case 0x0e:  // def_cfa_offset
        s.cfa_offset = static_cast<std::int64_t>(r.uleb());
        break;
      case 0x0f:  // def_cfa_expression
        s.cfa_expression = true;
        r.skip(r.uleb());
        break;
      case 0x10:    // expression
      case 0x16: {  // val_expression
        reg = r.uleb();
        r.skip(r.uleb());
        set_rule(s, reg, RegRule{RegRule::other, 0}, cie.ra_reg);
        break;
      }
      case 0x11:  // offset_extended_sf
        reg = r.uleb();
        set_rule(s, reg, RegRule{RegRule::saved, r.sleb() * cie.data_align}, cie.ra_reg);
        break;
      case 0x12:  // def_cfa_sf
        s.cfa_reg = static_cast<unsigned>(r.uleb());
        s.cfa_offset = r.sleb() * cie.data_align;
        s.cfa_expression = false;
        break;
      case 0x13:  // def_cfa_offset_sf
        s.cfa_offset = r.sleb() * cie.data_align;
        break;
      case 0x14:  // val_offset
        reg = r.uleb();
        r.uleb();
        set_rule(s, reg, RegRule{RegRule::other, 0}, cie.ra_reg);
        break;
      case 0x15:  // val_offset_sf
        reg = r.uleb();
        r.sleb();
        set_rule(s, reg, RegRule{RegRule::other, 0}, cie.ra_reg);
        break;
      case 0x2e:  // GNU_args_size
        r.uleb();
        break;
      case 0x2f:  // GNU_negative_offset_extended
        reg = r.uleb();
        set_rule(s, reg, RegRule{RegRule::saved, -static_cast<std::int64_t>(r.uleb()) * cie.data_align}, cie.ra_reg);
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

FrameRule rule_from_state(const CfaState& s) noexcept {
  if (s.ra.kind == RegRule::undefined) {
    return make_rule(FrameRule::outermost);
  }
  if (s.cfa_expression || (s.cfa_reg != reg_rsp && s.cfa_reg != reg_rbp) || s.ra.kind != RegRule::saved ||
      s.cfa_offset < 8 || s.cfa_offset > INT32_MAX ||
      (s.rbp.kind != RegRule::unchanged && s.rbp.kind != RegRule::saved && s.rbp.kind != RegRule::undefined)) {
    return make_rule(FrameRule::unsupported);
  }
  FrameRule rule = make_rule(FrameRule::standard);
  rule.cfa_offset = static_cast<std::int32_t>(s.cfa_offset);
  rule.cfa_from_rbp = s.cfa_reg == reg_rbp ? 1 : 0;
  rule.ra_slot = slot_of(s.ra.offset);
  rule.rbp_slot = s.rbp.kind == RegRule::saved ? slot_of(s.rbp.offset) : 0;
  if (rule.ra_slot == 0 || (s.rbp.kind == RegRule::saved && rule.rbp_slot == 0)) {
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

FrameRule rule_from_tables(std::uintptr_t eh_frame_hdr, std::uintptr_t pc) noexcept {
  bool searchable = false;
  const std::uint8_t* fde = find_fde(eh_frame_hdr, pc, &searchable);
  if (fde == nullptr) {
    return make_rule(searchable ? FrameRule::no_tables : FrameRule::unsupported);
  }
  const std::uint8_t* body = nullptr;
  const std::uint8_t* end = nullptr;
  if (!entry_extent(fde, &body, &end)) {
    return make_rule(FrameRule::unsupported);
  }
  Reader r(body, end);
  std::uint32_t cie_pointer = r.fixed<std::uint32_t>();
  Cie cie;
  if (cie_pointer == 0 || !parse_cie(body - cie_pointer, &cie) || cie.signal_frame) {
    return make_rule(FrameRule::unsupported);
  }
  std::uint64_t begin = 0;
  std::uint64_t range = 0;
  if (!r.pointer(cie.fde_encoding, 0, true, &begin) || !r.pointer(cie.fde_encoding, 0, false, &range)) {
    return make_rule(FrameRule::unsupported);
  }
  if (pc < begin || pc - begin >= range) {
    return make_rule(FrameRule::no_tables);
  }
  if (cie.augmented) {
    r.skip(r.uleb());
  }
  CfaState state;
  Reader initial_program(cie.instructions, cie.end);
  if (!execute(initial_program, cie, state, 0, UINT64_MAX, state)) {
    return make_rule(FrameRule::unsupported);
  }
  CfaState initial = state;
  if (!execute(r, cie, initial, begin, pc, state)) {
    return make_rule(FrameRule::unsupported);
  }
  return rule_from_state(state);
}

}  // namespace measure::detail
