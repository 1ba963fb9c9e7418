// A thread's cache of recent walks: (caller frame) -> stack id, validated on every use. An
// entry keeps every stack word its walk's result depended on (StackCheck); when the toolkit
// is entered again from the same return address with the same stack pointer (and frame
// pointer, if the walk used it), and every one of those words still holds the same value,
// the unwinder would compute exactly what it computed before and produce the same stack (the rules of a return address
// never change while its module stays loaded; the module generation is part of the key). So a hit is exact, and costs
// one load and compare per word instead of a walk. Owner thread only.
//
// The cache is set-associative, and a set may hold several walks from the same frame: the
// same return address and stack pointer are reached from different callers (in a recursion,
// a function called from two places at depths that line up), and one entry per frame made
// those walks evict each other on every call.
#pragma once

#include <cstdint>

#include "stacks/unwind.h"

namespace measure::detail {

class StackCache {
 public:
  static constexpr std::uint32_t ways = 4;
  static constexpr std::uint32_t set_count = 256;

  /// The stack id of the walk from `start`, if a cached walk is still valid.
  bool find(const CallerFrame& start, std::uint32_t generation, std::uint32_t* stack) const noexcept {
    const Entry* set = &m_entries[set_of(start) * ways];
    for (std::uint32_t way = 0; way < ways; ++way) {
      if (valid(set[way], start, generation)) {
        *stack = set[way].stack;
        return true;
      }
    }
    return false;
  }
  /// Remembers a cacheable walk. Uses toolkit memory; does nothing when it runs out.
  void remember(const CallerFrame& start, bool fp_used, std::uint32_t generation, std::uint32_t stack,
                const StackCheck* checks, std::uint32_t check_count) noexcept;
  /// Forgets every entry (a new thread adopts the state: its stack is elsewhere).
  void clear() noexcept;
  std::uint64_t memory_bytes() const noexcept { return m_memory; }

 private:
  struct Entry {
    std::uintptr_t ip;
    std::uintptr_t sp;
    std::uintptr_t fp;
    StackCheck* checks;  // nullptr: empty
    std::uint32_t check_count;
    std::uint32_t check_capacity;
    std::uint32_t stack;
    std::uint32_t generation;
    bool fp_used;  // the walk depended on the start frame's rbp
  };
  static bool valid(const Entry& e, const CallerFrame& start, std::uint32_t generation) noexcept {
    if (e.ip != start.ip || e.sp != start.sp || (e.fp_used && e.fp != start.fp) || e.generation != generation ||
        e.checks == nullptr) {
      return false;
    }
    // Four words per branch: the loads of a group are independent, so they overlap, and a hit
    // (the common case) takes a quarter of the branches.
    const StackCheck* c = e.checks;
    const StackCheck* end = c + e.check_count;
    for (; end - c >= 4; c += 4) {
      if (((word(c[0]) ^ c[0].value) | (word(c[1]) ^ c[1].value) | (word(c[2]) ^ c[2].value) |
           (word(c[3]) ^ c[3].value)) != 0) {
        return false;
      }
    }
    std::uintptr_t differ = 0;
    for (; c != end; ++c) {
      differ |= word(*c) ^ c->value;
    }
    return differ == 0;
  }
  static std::uintptr_t word(const StackCheck& check) noexcept {
    return *reinterpret_cast<const volatile std::uintptr_t*>(check.address);
  }
  static std::uint32_t set_of(const CallerFrame& start) noexcept {
    std::uint64_t h = (start.ip ^ (start.sp << 17) ^ (start.sp >> 4)) * 0x9e3779b97f4a7c15ULL;
    return static_cast<std::uint32_t>(h >> 40) & (set_count - 1);
  }
  /// The entry a new walk from `start` goes to: an empty one, or the set's next victim in
  /// turn. Not the entry of an earlier walk from the same frame as such: that walk differs
  /// from this one, and may still be the valid one for another caller.
  Entry& slot_for(const CallerFrame& start) noexcept;

  Entry m_entries[set_count * ways] = {};
  std::uint8_t m_victim[set_count] = {};  // per set: the way replaced next
  std::uint64_t m_memory = 0;
};

}  // namespace measure::detail
