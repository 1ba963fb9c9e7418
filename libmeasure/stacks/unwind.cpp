#include "stacks/unwind.h"

#include "platform/platform.h"
#include "stacks/stack_table.h"

namespace measure::detail {
namespace {

// A stack word at `address`, which lies in [low, high) and is aligned (the caller checked).
inline std::uintptr_t stack_word(std::uintptr_t address) noexcept {
  return *reinterpret_cast<const std::uintptr_t*>(address);
}

// The reads of one walk, bounded to the part of the thread's stack above the walk's current
// stack pointer: memory that is certainly mapped. It keeps the check list's cursor and the
// bounds in its own members (copies, not references into the caller's structures), so that
// the compiler holds them in registers across the walk's stores of frames and checks: a
// walk steps through about 40 frames per allocation when its stack is new.
class StackReader {
 public:
  explicit StackReader(const WalkBuffers& b) noexcept
      : m_high(b.stack_high - sizeof(std::uintptr_t)), m_check(b.checks), m_check_end(b.checks + b.check_capacity) {}

  /// Reads a word the walk's result depends on (a return address).
  bool read(std::uintptr_t address, std::uintptr_t sp, std::uintptr_t* value) noexcept {
    if (!peek(address, sp, value)) {
      return false;
    }
    note(StackCheck{address, *value});
    return true;
  }
  /// Reads a saved frame pointer: it matters only once a frame uses it (use_fp()).
  bool read_fp(std::uintptr_t address, std::uintptr_t sp, std::uintptr_t* value) noexcept {
    if (!peek(address, sp, value)) {
      return false;
    }
    m_fp_source = StackCheck{address, *value};
    return true;
  }
  /// The current frame's rule uses rbp: the result depends on where rbp came from.
  void use_fp() noexcept {
    if (m_fp_source.address == 0) {
      m_start_fp_used = true;
    } else if (m_fp_source.address != used) {
      note(m_fp_source);
    }
    m_fp_source.address = used;
  }
  /// Writes what the reads found into `result`.
  void finish(const WalkBuffers& b, WalkResult* result) const noexcept {
    result->check_count = static_cast<std::uint32_t>(m_check - b.checks);
    result->cacheable = !m_overflow;
    result->start_fp_used = m_start_fp_used;
  }

 private:
  static constexpr std::uintptr_t used = 1;  // m_fp_source is already listed or the start's

  bool peek(std::uintptr_t address, std::uintptr_t sp, std::uintptr_t* value) const noexcept {
    if (address < sp || address > m_high || (address & 7) != 0) {
      return false;
    }
    *value = stack_word(address);
    return true;
  }
  void note(StackCheck check) noexcept {
    if (__builtin_expect(m_check != m_check_end, 1)) {
      *m_check++ = check;
    } else {
      m_overflow = true;
    }
  }

  std::uintptr_t m_high;  // the highest stack word's address
  StackCheck* m_check;
  StackCheck* m_check_end;
  StackCheck m_fp_source{0, 0};  // where rbp was read from; address 0: the start frame
  bool m_overflow = false;
  bool m_start_fp_used = false;
};

}  // namespace

bool Unwinder::find_tables() noexcept {
  std::uintptr_t hdr = 0;
  m_has_tables = platform::find_unwind_tables(reinterpret_cast<std::uintptr_t>(&stack_word), &hdr) >= 0;
  return m_has_tables;
}

void Unwinder::walk_with_rows(std::uintptr_t ip, std::uintptr_t sp, std::uintptr_t fp, ProgramMemory& memory,
                              std::uint32_t max, const WalkBuffers& b, WalkResult* result) noexcept {
  Registers regs{};
  regs.set(reg_ra, ip);
  regs.set(reg_rsp, sp);
  regs.set(reg_rbp, fp);
  b.frames[max] = 0;
  result->cacheable = false;  // the DWARF walker's reads are not listed
  result->depth = dwarf_walk(regs, false, memory, m_rules, OwnCode{m_own_begin, m_own_end}, b.frames, result->depth,
                             max, &result->flags);
  if (b.frames[max] != 0) {
    result->flags |= stack_truncated;
  }
  if (memory.refused()) {
    result->flags |= stack_partial;  // it may have ended at memory it could not show readable
  }
}

WalkResult Unwinder::walk(const CallerFrame& start, std::uint32_t max, const WalkBuffers& b) noexcept {
  WalkResult result{0, 0, 0, true, false};
  if (max == 0) {
    return result;
  }
  StackReader reader(b);
  std::uintptr_t ip = start.ip;
  std::uintptr_t sp = start.sp;
  std::uintptr_t fp = start.fp;
  std::uintptr_t* frame = b.frames;
  std::uintptr_t* frames_end = b.frames + max;
  std::uint32_t flags = 0;
  *frame++ = ip;
  for (;;) {
    FrameRule rule = b.rules != nullptr ? b.rules->lookup(ip, m_rules) : m_rules.lookup(ip);
    std::uintptr_t cfa = 0;
    std::uintptr_t next_ip = 0;
    std::uintptr_t next_fp = fp;
    if (__builtin_expect(rule.kind == FrameRule::standard, 1)) {
      if (rule.cfa_from_rbp != 0) {
        reader.use_fp();
      }
      cfa = (rule.cfa_from_rbp != 0 ? fp : sp) + static_cast<std::uintptr_t>(rule.cfa_offset);
      if (cfa <= sp || cfa > b.stack_high ||
          !reader.read(cfa + static_cast<std::uintptr_t>(8 * static_cast<std::intptr_t>(rule.ra_slot)), sp, &next_ip) ||
          (rule.rbp_slot != 0 &&
           !reader.read_fp(cfa + static_cast<std::uintptr_t>(8 * static_cast<std::intptr_t>(rule.rbp_slot)), sp,
                           &next_fp))) {
        break;
      }
    } else if (rule.kind == FrameRule::drap) {
      // The frame realigned its stack: its CFA was saved in the frame, at rbp + cfa_offset.
      reader.use_fp();
      if (!reader.read(fp + static_cast<std::uintptr_t>(static_cast<std::intptr_t>(rule.cfa_offset)), sp, &cfa) ||
          cfa <= sp || cfa > b.stack_high ||
          !reader.read(cfa + static_cast<std::uintptr_t>(8 * static_cast<std::intptr_t>(rule.ra_slot)), sp, &next_ip) ||
          !reader.read_fp(fp + static_cast<std::uintptr_t>(8 * static_cast<std::intptr_t>(rule.rbp_slot)), sp,
                          &next_fp)) {
        break;
      }
    } else if (rule.kind == FrameRule::no_tables || rule.kind == FrameRule::uncovered) {
      // No tables: trust the frame pointer if it points into this frame's part of the stack.
      reader.use_fp();
      cfa = fp + 2 * sizeof(std::uintptr_t);
      if (fp < sp || !reader.read(fp + sizeof(std::uintptr_t), sp, &next_ip) || !reader.read_fp(fp, sp, &next_fp)) {
        break;
      }
      flags |= stack_partial;
    } else if (rule.kind == FrameRule::unsupported) {
      ProgramMemory memory(b.stack_low, b.stack_high, 0);
      result.depth = static_cast<std::uint32_t>(frame - b.frames);
      result.flags = flags;
      reader.finish(b, &result);
      walk_with_rows(ip, sp, fp, memory, max, b, &result);
      return result;
    } else {
      break;  // the outermost frame
    }
    if (next_ip < 4096) {
      break;
    }
    if (frame == frames_end) {
      flags |= stack_truncated;
      break;
    }
    *frame++ = next_ip;
    ip = next_ip;
    sp = cfa;
    fp = next_fp;
  }
  result.depth = static_cast<std::uint32_t>(frame - b.frames);
  result.flags = flags;
  reader.finish(b, &result);
  return result;
}

WalkResult Unwinder::walk_foreign(std::uintptr_t from, std::uint32_t max, const WalkBuffers& b) noexcept {
  WalkResult result{0, 0, 0, false, false};
  if (max == 0) {
    return result;
  }
  // The toolkit's frames lie on the page of `from` and above it on the same stack, as the
  // program's do; memory is read only where shown readable.
  ProgramMemory memory(b.stack_low, b.stack_high, from);
  std::uintptr_t at = from;
  for (unsigned i = 0; i < max_own_frames; ++i) {
    std::uintptr_t saved_fp = 0;
    std::uintptr_t ret = 0;
    if ((at & 7) != 0 || !memory.read(at, &saved_fp) || !memory.read(at + sizeof(std::uintptr_t), &ret)) {
      return result;
    }
    if (!is_own(ret)) {
      if (ret < 4096) {
        return result;
      }
      b.frames[result.depth++] = ret;
      walk_with_rows(ret, at + 2 * sizeof(std::uintptr_t), saved_fp, memory, max, b, &result);
      return result;
    }
    if (saved_fp <= at) {
      return result;
    }
    at = saved_fp;
  }
  return result;
}

}  // namespace measure::detail
