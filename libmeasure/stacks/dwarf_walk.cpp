#include "stacks/dwarf_walk.h"

#include <cstring>

#include "platform/platform.h"
#include "stacks/dwarf_reader.h"
#include "stacks/stack_table.h"

namespace measure::detail {
namespace {

constexpr unsigned max_operands = 16;     // a DWARF expression's stack
constexpr unsigned max_operations = 128;  // per expression: loops (DW_OP_bra) end here
constexpr unsigned max_own_frames = 64;   // toolkit frames a walk may step over

// A DWARF expression's operand stack.
class Operands {
 public:
  bool push(std::uintptr_t v) noexcept {
    if (m_size == max_operands) {
      return false;
    }
    m_values[m_size++] = v;
    return true;
  }
  bool pop(std::uintptr_t* v) noexcept {
    if (m_size == 0) {
      return false;
    }
    *v = m_values[--m_size];
    return true;
  }
  /// The entry `depth` below the top (0: the top).
  bool pick(unsigned depth) noexcept { return depth < m_size && push(m_values[m_size - 1 - depth]); }
  bool top(std::uintptr_t* v) const noexcept {
    if (m_size == 0) {
      return false;
    }
    *v = m_values[m_size - 1];
    return true;
  }

 private:
  std::uintptr_t m_values[max_operands];
  unsigned m_size = 0;
};

// The binary operators of DWARF expressions (0x1a-0x2e that take two operands), signed where
// DWARF says so. False for division by zero and unknown operators.
bool binary(std::uint8_t op, std::uintptr_t a, std::uintptr_t b, std::uintptr_t* out) noexcept {
  auto sa = static_cast<std::intptr_t>(a);
  auto sb = static_cast<std::intptr_t>(b);
  switch (op) {
    case 0x1a:  // and
      *out = a & b;
      return true;
    case 0x1b:  // div
      *out = static_cast<std::uintptr_t>(sa / sb);
      return sb != 0 && !(sb == -1 && sa == INTPTR_MIN);
    case 0x1c:  // minus
      *out = a - b;
      return true;
    case 0x1d:  // mod
      *out = b != 0 ? a % b : 0;
      return b != 0;
    case 0x1e:  // mul
      *out = a * b;
      return true;
    case 0x21:  // or
      *out = a | b;
      return true;
    case 0x22:  // plus
      *out = a + b;
      return true;
    case 0x24:  // shl
      *out = b < 64 ? a << b : 0;
      return true;
    case 0x25:  // shr
      *out = b < 64 ? a >> b : 0;
      return true;
    case 0x26:  // shra
      *out = static_cast<std::uintptr_t>(b < 64 ? sa >> b : (sa < 0 ? -1 : 0));
      return true;
    case 0x27:  // xor
      *out = a ^ b;
      return true;
    case 0x29:  // eq
    case 0x2a:  // ge
    case 0x2b:  // gt
    case 0x2c:  // le
    case 0x2d:  // lt
    case 0x2e:  // ne
      *out = op == 0x29   ? sa == sb
             : op == 0x2a ? sa >= sb
             : op == 0x2b ? sa > sb
             : op == 0x2c ? sa <= sb
             : op == 0x2d ? sa < sb
                          : sa != sb;
      return true;
    default:
      return false;
  }
}

// The operand of DW_OP_const1u to DW_OP_const8s (0x08-0x0f): 1, 2, 4 or 8 bytes, unsigned for
// even operations and sign-extended for odd ones.
std::uintptr_t fixed_constant(Reader& r, std::uint8_t op) noexcept {
  bool is_signed = (op & 1U) != 0;
  switch ((op - 0x08U) / 2) {
    case 0:
      return is_signed ? static_cast<std::uintptr_t>(static_cast<std::intptr_t>(r.fixed<std::int8_t>()))
                       : r.fixed<std::uint8_t>();
    case 1:
      return is_signed ? static_cast<std::uintptr_t>(static_cast<std::intptr_t>(r.fixed<std::int16_t>()))
                       : r.fixed<std::uint16_t>();
    case 2:
      return is_signed ? static_cast<std::uintptr_t>(static_cast<std::intptr_t>(r.fixed<std::int32_t>()))
                       : r.fixed<std::uint32_t>();
    default:
      return r.fixed<std::uint64_t>();
  }
}

// `size` bytes (1 to 8) at `address`, zero-extended.
bool read_sized(ProgramMemory& memory, std::uintptr_t address, unsigned size, std::uintptr_t* value) noexcept {
  if (size == 0 || size > sizeof(std::uintptr_t) || !memory.readable(address, size)) {
    return false;
  }
  *value = 0;
  std::memcpy(value, reinterpret_cast<const void*>(address), size);  // little-endian
  return true;
}

// Evaluates a DWARF expression (the operations unwind tables use: constants, registers,
// memory reads, arithmetic, comparisons and branches) with `initial` pushed first when given.
bool evaluate(const RegisterRule& rule, const Registers& regs, ProgramMemory& memory, const std::uintptr_t* initial,
              std::uintptr_t* result) noexcept {
  const std::uint8_t* begin = rule.expression;
  const std::uint8_t* end = begin + rule.expression_size;
  Operands stack;
  if (rule.expression_size == 0 || (initial != nullptr && !stack.push(*initial))) {
    return false;
  }
  Reader r(begin, end);
  for (unsigned operations = 0; !r.done(); ++operations) {
    std::uint8_t op = r.fixed<std::uint8_t>();
    std::uintptr_t a = 0;
    std::uintptr_t b = 0;
    bool ok = operations < max_operations;
    if (op >= 0x30 && op <= 0x4f) {  // lit0-31
      ok = ok && stack.push(op - 0x30U);
    } else if ((op >= 0x70 && op <= 0x8f) || op == 0x92) {  // breg0-31, bregx
      std::uint64_t reg = op == 0x92 ? r.uleb() : op - 0x70U;
      std::int64_t offset = r.sleb();
      ok = ok && regs.has(static_cast<unsigned>(reg)) &&
           stack.push(regs.value[reg] + static_cast<std::uintptr_t>(offset));
    } else {
      switch (op) {
        case 0x03:  // addr
          ok = ok && stack.push(r.fixed<std::uint64_t>());
          break;
        case 0x06:  // deref
        case 0x94:  // deref_size
          b = op == 0x94 ? r.fixed<std::uint8_t>() : sizeof(std::uintptr_t);
          ok = ok && stack.pop(&a) && read_sized(memory, a, static_cast<unsigned>(b), &a) && stack.push(a);
          break;
        case 0x08:  // const1u
        case 0x09:  // const1s
        case 0x0a:  // const2u
        case 0x0b:  // const2s
        case 0x0c:  // const4u
        case 0x0d:  // const4s
        case 0x0e:  // const8u
        case 0x0f:  // const8s
          ok = ok && stack.push(fixed_constant(r, op));
          break;
        case 0x10:  // constu
          ok = ok && stack.push(r.uleb());
          break;
        case 0x11:  // consts
          ok = ok && stack.push(static_cast<std::uintptr_t>(r.sleb()));
          break;
        case 0x12:  // dup
          ok = ok && stack.pick(0);
          break;
        case 0x13:  // drop
          ok = ok && stack.pop(&a);
          break;
        case 0x14:  // over
          ok = ok && stack.pick(1);
          break;
        case 0x15:  // pick
          ok = ok && stack.pick(r.fixed<std::uint8_t>());
          break;
        case 0x16:  // swap
          ok = ok && stack.pop(&a) && stack.pop(&b) && stack.push(a) && stack.push(b);
          break;
        case 0x17: {  // rot: the top moves below the next two
          std::uintptr_t c = 0;
          ok = ok && stack.pop(&a) && stack.pop(&b) && stack.pop(&c) && stack.push(a) && stack.push(c) && stack.push(b);
          break;
        }
        case 0x19:  // abs
          ok = ok && stack.pop(&a) &&
               stack.push(static_cast<std::intptr_t>(a) < 0 ? static_cast<std::uintptr_t>(0) - a : a);
          break;
        case 0x1f:  // neg
          ok = ok && stack.pop(&a) && stack.push(static_cast<std::uintptr_t>(0) - a);
          break;
        case 0x20:  // not
          ok = ok && stack.pop(&a) && stack.push(~a);
          break;
        case 0x23:  // plus_uconst
          ok = ok && stack.pop(&a) && stack.push(a + r.uleb());
          break;
        case 0x28:    // bra
        case 0x2f: {  // skip
          std::int16_t delta = r.fixed<std::int16_t>();
          bool jump = true;
          if (op == 0x28) {
            ok = ok && stack.pop(&a);
            jump = a != 0;
          }
          std::ptrdiff_t target = (r.at() - begin) + delta;
          if (ok && jump) {
            ok = target >= 0 && target <= end - begin;
            r = Reader(begin + (ok ? target : 0), end);
          }
          break;
        }
        case 0x96:  // nop
          break;
        default:
          ok = ok && stack.pop(&b) && stack.pop(&a) && binary(op, a, b, &a) && stack.push(a);
          break;
      }
    }
    if (!ok || !r.ok()) {
      return false;
    }
  }
  return stack.top(result);
}

enum class Step { next, outermost, stop };

// The caller of a frame in code without unwind tables (JIT code, a module without them),
// through its frame pointer: only when rbp points into the frame, a little above its stack
// pointer (an rbp that is not a frame pointer often points to another stack).
Step step_by_frame_pointer(Registers& regs, ProgramMemory& memory, std::uint32_t* flags) noexcept {
  constexpr std::uintptr_t max_frame_bytes = 1U << 20;
  std::uintptr_t fp = regs.value[reg_rbp];
  std::uintptr_t ra = 0;
  std::uintptr_t saved_fp = 0;
  if (!regs.has(reg_rbp) || fp < regs.value[reg_rsp] || fp - regs.value[reg_rsp] > max_frame_bytes ||
      !memory.read(fp + sizeof(std::uintptr_t), &ra) || !memory.read(fp, &saved_fp)) {
    return Step::stop;
  }
  *flags |= stack_partial;
  regs.set(reg_ra, ra);
  regs.set(reg_rsp, fp + 2 * sizeof(std::uintptr_t));
  regs.set(reg_rbp, saved_fp);
  return Step::next;
}

// One rule of `row` applied: the caller's value of a register, or false when it is unknown.
bool caller_value(const RegisterRule& rule, const Registers& regs, ProgramMemory& memory, std::uintptr_t cfa,
                  std::uintptr_t* value) noexcept {
  std::uintptr_t at = 0;
  switch (rule.kind) {
    case RegisterRule::unchanged:  // apply_row keeps this frame's value
    case RegisterRule::undefined:
      return false;
    case RegisterRule::saved_at_offset:
      return memory.read(cfa + static_cast<std::uintptr_t>(rule.offset), value);
    case RegisterRule::offset_value:
      *value = cfa + static_cast<std::uintptr_t>(rule.offset);
      return true;
    case RegisterRule::register_value:
      *value = regs.value[rule.reg < register_count ? rule.reg : 0];
      return regs.has(rule.reg);
    case RegisterRule::saved_at_expression:
      return evaluate(rule, regs, memory, &cfa, &at) && memory.read(at, value);
    case RegisterRule::expression_value:
      return evaluate(rule, regs, memory, &cfa, value);
  }
  return false;
}

// Steps from the frame in `regs` to its caller with the row of the tables.
Step apply_row(const FrameRow& row, Registers& regs, bool* exact, ProgramMemory& memory) noexcept {
  RegisterRule::Kind ra = row.registers[reg_ra].kind;
  if (ra == RegisterRule::undefined) {
    return Step::outermost;
  }
  std::uintptr_t cfa = 0;
  if (row.cfa.kind == RegisterRule::register_value) {
    if (!regs.has(row.cfa.reg)) {
      return Step::stop;
    }
    cfa = regs.value[row.cfa.reg] + static_cast<std::uintptr_t>(row.cfa.offset);
  } else if (!evaluate(row.cfa, regs, memory, nullptr, &cfa)) {
    return Step::stop;
  }
  Registers caller = regs;
  for (unsigned reg = 0; reg < register_count; ++reg) {
    const RegisterRule& rule = row.registers[reg];
    std::uintptr_t value = 0;
    if (rule.kind == RegisterRule::unchanged) {
      continue;
    }
    if (caller_value(rule, regs, memory, cfa, &value)) {
      caller.set(reg, value);
    } else {
      caller.forget(reg);
    }
  }
  if (row.registers[reg_rsp].kind == RegisterRule::unchanged) {
    caller.set(reg_rsp, cfa);  // the CFA is the caller's stack pointer by definition
  }
  // The caller's frame lies above this one, except across a signal frame (a handler on a
  // sigaltstack returns to the interrupted code on another stack).
  if (ra == RegisterRule::unchanged || !caller.has(reg_ra) || !caller.has(reg_rsp) ||
      (!row.signal_frame && caller.value[reg_rsp] <= regs.value[reg_rsp])) {
    return Step::stop;
  }
  *exact = row.signal_frame;
  regs = caller;
  return Step::next;
}

// Steps with a cached rule of the ordinary kinds (FrameRule::standard or drap), which name
// only rsp, rbp and the return address: the caller's other registers become unknown.
Step step_with_rule(const FrameRule& rule, Registers& regs, ProgramMemory& memory) noexcept {
  std::uintptr_t sp = regs.value[reg_rsp];
  std::uintptr_t fp = regs.value[reg_rbp];
  bool uses_fp = rule.kind == FrameRule::drap || rule.cfa_from_rbp != 0;
  std::uintptr_t cfa = (uses_fp ? fp : sp) + static_cast<std::uintptr_t>(static_cast<std::intptr_t>(rule.cfa_offset));
  if (!regs.has(reg_rsp) || (uses_fp && !regs.has(reg_rbp)) ||
      (rule.kind == FrameRule::drap && !memory.read(cfa, &cfa)) || cfa <= sp) {
    return Step::stop;
  }
  Registers caller{};
  std::uintptr_t value = 0;
  if (!memory.read(cfa + static_cast<std::uintptr_t>(8 * static_cast<std::intptr_t>(rule.ra_slot)), &value)) {
    return Step::stop;
  }
  caller.set(reg_ra, value);
  caller.set(reg_rsp, cfa);
  std::uintptr_t rbp_home = rule.kind == FrameRule::drap ? fp : cfa;
  if (rule.kind != FrameRule::drap && rule.rbp_slot == 0) {
    if (regs.has(reg_rbp)) {
      caller.set(reg_rbp, fp);  // not saved: unchanged
    }
  } else if (memory.read(rbp_home + static_cast<std::uintptr_t>(8 * static_cast<std::intptr_t>(rule.rbp_slot)),
                         &value)) {
    caller.set(reg_rbp, value);
  }
  regs = caller;
  return Step::next;
}

Step step(Registers& regs, bool* exact, ProgramMemory& memory, FrameRules& rules, std::uint32_t* flags) noexcept {
  // A return address points after its call (the rules look at address - 1); the instruction a
  // signal interrupted is exact.
  std::uintptr_t ip = regs.value[reg_ra];
  FrameRule rule = rules.lookup(*exact ? ip + 1 : ip);
  switch (rule.kind) {
    case FrameRule::standard:
    case FrameRule::drap:
      *exact = false;
      return step_with_rule(rule, regs, memory);
    case FrameRule::outermost:
      return Step::outermost;
    case FrameRule::no_tables:
      *exact = false;
      return step_by_frame_pointer(regs, memory, flags);
    case FrameRule::uncovered:
      // Not a call site (makecontext's start routine is entered by a return): the walk ends,
      // as libgcc's does.
      return Step::stop;
    case FrameRule::none:
    case FrameRule::unsupported:
      break;
  }
  std::uintptr_t pc = *exact ? ip : ip - 1;
  std::uintptr_t hdr = 0;
  FrameRow row;
  if (platform::find_unwind_tables(pc, &hdr) <= 0 || hdr == 0 || row_from_tables(hdr, pc, &row) != RowLookup::found) {
    return Step::stop;
  }
  return apply_row(row, regs, exact, memory);
}

}  // namespace

ProgramMemory::ProgramMemory(std::uintptr_t stack_low, std::uintptr_t stack_high, std::uintptr_t trusted) noexcept
    : m_stack{stack_low < stack_high ? stack_low : 0, stack_low < stack_high ? stack_high : 0} {
  if (trusted != 0) {
    std::uintptr_t page = trusted & ~(platform::page_size() - 1);
    m_probed[m_ranges++] = Range{page, page + platform::page_size()};
  }
}

bool ProgramMemory::known(std::uintptr_t address, std::uintptr_t size) const noexcept {
  if (address >= m_stack.low && address + size <= m_stack.high) {
    return true;
  }
  for (unsigned i = 0; i < m_ranges; ++i) {
    if (address >= m_probed[i].low && address + size <= m_probed[i].high) {
      return true;
    }
  }
  return false;
}

bool ProgramMemory::readable(std::uintptr_t address, std::uintptr_t size) noexcept {
  if (size == 0 || address + size < address) {
    return false;
  }
  // Both ends: a word may straddle two pages.
  for (std::uintptr_t at : {address, address + size - 1}) {
    if (known(at, 1)) {
      continue;
    }
    std::uintptr_t page = at & ~(platform::page_size() - 1);
    std::size_t pages = m_probes < max_probes ? platform::readable_pages(page, probe_pages) : 0;
    m_probes += m_probes < max_probes ? 1 : 0;
    if (pages == 0) {
      m_refused = true;
      return false;
    }
    m_probed[m_ranges++] = Range{page, page + pages * platform::page_size()};
  }
  return true;
}

bool ProgramMemory::read(std::uintptr_t address, std::uintptr_t* value) noexcept {
  if (!readable(address, sizeof *value)) {
    return false;
  }
  std::memcpy(value, reinterpret_cast<const void*>(address), sizeof *value);
  return true;
}

std::uint32_t dwarf_walk(Registers regs, bool exact, ProgramMemory& memory, FrameRules& rules, const OwnCode& own,
                         std::uintptr_t* frames, std::uint32_t depth, std::uint32_t max,
                         std::uint32_t* flags) noexcept {
  for (unsigned steps = 0; steps < max + max_own_frames; ++steps) {
    if (step(regs, &exact, memory, rules, flags) != Step::next) {
      break;
    }
    std::uintptr_t ip = regs.value[reg_ra];
    if (ip < 4096) {
      break;
    }
    if (own.contains(ip)) {
      continue;
    }
    if (depth == max) {
      frames[max] = 1;  // there were more frames
      break;
    }
    frames[depth++] = exact ? ip + 1 : ip;
  }
  return depth;
}

}  // namespace measure::detail
