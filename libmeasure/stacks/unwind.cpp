#include "stacks/unwind.h"

#include <cstring>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "platform/platform.h"
#include "stacks/stack_table.h"

namespace measure::detail {
namespace {

// A stack word at `address`, which lies in [low, high) and is aligned (the caller checked).
inline std::uintptr_t stack_word(std::uintptr_t address) noexcept {
  return *reinterpret_cast<const std::uintptr_t*>(address);
}

// The reads of one walk, bounded to the part of the thread's stack above the walk's current
// stack pointer: memory that is certainly mapped.
class StackReader {
 public:
  StackReader(const WalkBuffers& b, WalkResult& result) noexcept : m_b(b), m_result(result) {}

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
      m_result.start_fp_used = true;
    } else if (m_fp_source.address != used) {
      note(m_fp_source);
    }
    m_fp_source.address = used;
  }

 private:
  static constexpr std::uintptr_t used = 1;  // m_fp_source is already listed or the start's

  bool peek(std::uintptr_t address, std::uintptr_t sp, std::uintptr_t* value) const noexcept {
    if (address < sp || address > m_b.stack_high - sizeof(std::uintptr_t) || (address & 7) != 0) {
      return false;
    }
    *value = stack_word(address);
    return true;
  }
  void note(StackCheck check) noexcept {
    if (m_result.check_count < m_b.check_capacity) {
      m_b.checks[m_result.check_count++] = check;
    } else {
      m_result.cacheable = false;
    }
  }

 private:
  const WalkBuffers& m_b;
  WalkResult& m_result;
  StackCheck m_fp_source{0, 0};  // where rbp was read from; address 0: the start frame
};

}  // namespace

bool Unwinder::load_tables() noexcept {
  void* lib = platform::open_library_private("libunwind.so.8");
  if (lib == nullptr) {
    return false;
  }
  auto init_local = reinterpret_cast<int (*)(void*, void*)>(platform::library_symbol(lib, "_ULx86_64_init_local"));
  auto step = reinterpret_cast<int (*)(void*)>(platform::library_symbol(lib, "_ULx86_64_step"));
  auto get_reg =
      reinterpret_cast<int (*)(void*, int, std::uintptr_t*)>(platform::library_symbol(lib, "_ULx86_64_get_reg"));
  auto set_policy = reinterpret_cast<int (*)(unw_addr_space_t, unw_caching_policy_t)>(
      platform::library_symbol(lib, "_ULx86_64_set_caching_policy"));
  auto* space = static_cast<unw_addr_space_t*>(platform::library_symbol(lib, "_ULx86_64_local_addr_space"));
  if (init_local == nullptr || step == nullptr || get_reg == nullptr) {
    return false;
  }
  if (set_policy != nullptr && space != nullptr) {
    set_policy(*space, UNW_CACHE_PER_THREAD);
  }
  m_step = step;
  m_get_reg = get_reg;
  __atomic_store_n(&m_init_local, init_local, __ATOMIC_RELEASE);
  return true;
}

std::uint32_t Unwinder::walk_with_libunwind(std::uintptr_t ip, std::uintptr_t sp, std::uintptr_t fp,
                                            std::uintptr_t* frames, std::uint32_t depth, std::uint32_t max) noexcept {
  auto init_local = __atomic_load_n(&m_init_local, __ATOMIC_ACQUIRE);
  if (init_local == nullptr) {
    return depth;
  }
  // The frame's registers as libunwind expects them: it treats the instruction pointer as a
  // return address (looks up ip - 1), as the walk does. The other callee-saved registers are
  // unknown; standard rules never use them.
  unw_context_t context;
  std::memset(&context, 0, sizeof context);
  context.uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(ip);
  context.uc_mcontext.gregs[REG_RSP] = static_cast<greg_t>(sp);
  context.uc_mcontext.gregs[REG_RBP] = static_cast<greg_t>(fp);
  unw_cursor_t cursor;
  if (init_local(&cursor, &context) < 0) {
    return depth;
  }
  while (m_step(&cursor) > 0) {
    std::uintptr_t next = 0;
    if (m_get_reg(&cursor, UNW_REG_IP, &next) < 0 || next == 0) {
      break;
    }
    if (is_own(next)) {
      continue;
    }
    if (depth == max) {
      frames[max] = 1;  // marker read by walk(): there were more frames
      break;
    }
    frames[depth++] = next;
  }
  return depth;
}

WalkResult Unwinder::walk(const CallerFrame& start, std::uint32_t max, const WalkBuffers& b) noexcept {
  WalkResult result{0, 0, 0, true, false};
  if (max == 0) {
    return result;
  }
  StackReader reader(b, result);
  std::uintptr_t ip = start.ip;
  std::uintptr_t sp = start.sp;
  std::uintptr_t fp = start.fp;
  b.frames[result.depth++] = ip;
  for (;;) {
    FrameRule rule = m_rules.lookup(ip);
    std::uintptr_t cfa = 0;
    std::uintptr_t next_ip = 0;
    std::uintptr_t next_fp = fp;
    if (rule.kind == FrameRule::standard) {
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
    } else if (rule.kind == FrameRule::no_tables) {
      // No tables: trust the frame pointer if it points into this frame's part of the stack.
      reader.use_fp();
      cfa = fp + 2 * sizeof(std::uintptr_t);
      if (fp < sp || !reader.read(fp + sizeof(std::uintptr_t), sp, &next_ip) || !reader.read_fp(fp, sp, &next_fp)) {
        break;
      }
      result.flags |= stack_partial;
    } else if (rule.kind == FrameRule::unsupported) {
      result.cacheable = false;
      b.frames[max] = 0;
      result.depth = walk_with_libunwind(ip, sp, fp, b.frames, result.depth, max);
      if (b.frames[max] != 0) {
        result.flags |= stack_truncated;
      }
      break;
    } else {
      break;  // the outermost frame
    }
    if (next_ip < 4096) {
      break;
    }
    if (result.depth == max) {
      result.flags |= stack_truncated;
      break;
    }
    b.frames[result.depth++] = next_ip;
    ip = next_ip;
    sp = cfa;
    fp = next_fp;
  }
  return result;
}

WalkResult Unwinder::walk_foreign(std::uint32_t max, const WalkBuffers& b) noexcept {
  WalkResult result{0, 0, 0, false, true};
  auto at = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  b.frames[max] = 0;
  result.depth = walk_with_libunwind(stack_word(at + sizeof(std::uintptr_t)), at + 2 * sizeof(std::uintptr_t),
                                     stack_word(at), b.frames, 0, max);
  result.flags = b.frames[max] != 0 ? static_cast<std::uint32_t>(stack_truncated) : 0U;
  return result;
}

}  // namespace measure::detail
