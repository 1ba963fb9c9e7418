// What `measure run` can tell about a program before starting it: whether the preload can
// see into it at all, and which allocations it will miss. Read from the executable's ELF
// headers and dynamic symbols; no code of the program runs.
#pragma once

#include <string>
#include <vector>

namespace measure::tools {

struct ProgramCheck {
  bool is_elf = false;
  bool statically_linked = false;                   // no dynamic loader: LD_PRELOAD cannot reach it
  bool defines_malloc = false;                      // the executable's own allocator replaces the C library's
  std::vector<std::string> direct_allocator_calls;  // e.g. mi_malloc, mallocx: not seen by the hooks
};

/// Inspects the executable at `path`. Scripts and unreadable files give is_elf = false.
ProgramCheck check_program(const std::string& path);

}  // namespace measure::tools
