// The program's own environment under `measure run`, and the one its exec'd programs get.
//
// `measure run` has to give the runtime its variables (LD_PRELOAD, LD_AUDIT, MEASURE_*), but
// the program must see exactly the environment it has natively. So `measure run` also sets
// MEASURE_INJECTED, which names every variable it set and what the program has instead:
//
//   MEASURE_INJECTED = item (';' item)*
//   item             = length ':' name                 the program has no such variable
//                    | length ':' name '=' value       the program has it, with this value
//
// where `length` (decimal) counts the bytes of `name` or `name=value`, so a value may hold
// any byte, ';' included. When the runtime starts it reads its options first, then settles:
// every variable named is put back to the program's value or removed, MEASURE_INJECTED too.
// The environment array is edited in place (the array main's envp points to as well) and a
// restored entry points into MEASURE_INJECTED's own string, whose separators become NULs:
// nothing is allocated.
//
// For exec'd programs that are followed (--follow-exec), the runtime builds the environment
// the same way in reverse: the program's environment plus the injected variables (LD_PRELOAD
// and LD_AUDIT as measure's libraries followed by the program's own value), with a new
// MEASURE_INJECTED that describes the program's values, so the next program sees its own
// environment again.
#pragma once

#include <cstddef>
#include <cstdint>

namespace measure::detail {

class InjectedEnvironment {
 public:
  /// The most variables MEASURE_INJECTED may name.
  static constexpr unsigned max_entries = 16;

  /// Restores the program's own environment in `environment` (writable, NULL-terminated) as
  /// MEASURE_INJECTED describes it, and remembers what was injected. Returns false when there
  /// is no MEASURE_INJECTED (the preload was set by hand: nothing changes), or when it is
  /// malformed (one warning; only MEASURE_INJECTED itself is removed). Call once, at start.
  bool settle(char** environment) noexcept;
  /// True once settle found a well-formed MEASURE_INJECTED.
  bool known() const noexcept { return m_known; }

  /// Bytes of memory child_environment needs for a program started with `envp`.
  std::size_t child_bytes(char* const* envp) const noexcept;
  /// What child_environment replaced: per injected variable (by index), and at [max_entries]
  /// MEASURE_INJECTED, the entry of the program's environment it stands in for, or nullptr.
  using Replaced = char * [max_entries + 1];

  /// Builds in `memory` (`bytes` from child_bytes(envp), aligned for pointers) the environment
  /// of a program started with `envp`: `envp` with the injected variables set again, and a
  /// MEASURE_INJECTED that restores `envp`'s own values. Fills `replaced` when given. Returns
  /// nullptr when `envp` grew since child_bytes and no longer fits. pre: known().
  char** child_environment(char* const* envp, void* memory, std::size_t bytes,
                           Replaced* replaced = nullptr) const noexcept;
  /// `environment` was made by the program from one that child_environment built in
  /// [memory, memory + bytes) (another thread's setenv while it was in use): puts the
  /// program's entries that `replaced` names back in place of the injected ones, in place.
  void take_back(char** environment, const void* memory, std::size_t bytes, const Replaced& replaced) const noexcept;

 private:
  struct Entry {
    const char* text;  // "name=value" as `measure run` set it
    std::uint32_t name_size;
    std::uint32_t own_size;  // a loader list's first bytes of value that are measure's
    bool loader_list;        // LD_PRELOAD, LD_AUDIT: measure's libraries, then the program's
  };

  /// Copies the injected variables' strings into memory of the runtime's own: the program may
  /// write over its environment's strings (setproctitle does), and exec'd programs still need
  /// them. Without memory they stay where they are.
  void keep_entries() noexcept;
  /// The entry named like `variable` ("name=value"), or -1.
  int find(const char* variable) const noexcept;
  /// The bytes of "name=value" an injected variable has for a program whose own is `own`.
  std::size_t injected_size(const Entry& entry, const char* own) const noexcept;

  Entry m_entries[max_entries] = {};
  unsigned m_count = 0;
  bool m_known = false;
};

}  // namespace measure::detail
