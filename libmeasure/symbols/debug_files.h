// Finding a module's separate debug information without ever blocking: the libdwfl
// find_debuginfo callback the symbolizer uses instead of dwfl_standard_find_debuginfo, which
// opens whatever its candidate paths name, so a FIFO among them (a .gnu_debuglink naming one)
// blocks the report forever. This one looks where the standard search looks, in its order,
// and accepts a candidate by the same rules, but opens regular files only
// (platform::open_regular_file) and says what it passed over.
//
// The search, for a module file F in directory D with base name B (libdwfl's default debug
// path ":.debug:/usr/lib/debug"):
//   1. /usr/lib/debug/.build-id/xx/yyyy.debug, when the module has a build-id;
//   2. the .gnu_debuglink name L (else B.debug, then B): D/L, D/.debug/L, then
//      /usr/lib/debug/D/L with D shortened by one leading directory at a time;
//   3. step 2 again with F's real path, when F is a symbolic link.
// A candidate is taken when it is not F itself and carries the module's build-id or, for a
// module without one, has the CRC-32 the debug link records. The dwz file (.gnu_debugaltlink)
// of the DWARF found is looked up the same way by its own build-id, then as D/NAME,
// D/.dwz/N, D/.debug/NAME, /usr/lib/debug/N, /usr/lib/debug/.dwz/N (N its base name) and
// NAME itself when absolute, and must carry the build-id the link records. Debuginfod is
// never consulted.
#pragma once

#include <string>
#include <vector>

#include <elfutils/libdwfl.h>

#include "platform/platform.h"

namespace measure::detail {

/// A .gnu_debugaltlink: the dwz file's name and build-id (both empty when there is none).
struct AltLink {
  std::string name;
  std::string build_id;
};

/// The .gnu_debugaltlink section of `elf`.
AltLink alt_link_of(Elf* elf);

/// One module's debug file search: set up when the module is reported, reached by the
/// callback through the module's libdwfl userdata.
struct DebugSearch {
  platform::FileId main{};                          // the module's own file, which is never its own debug file
  AltLink main_alt;                                 // the module file's dwz link (when its DWARF is its own)
  std::string debug_file;                           // the separate debug file found, once found
  AltLink debug_alt;                                // that file's dwz link
  std::vector<std::string>* not_regular = nullptr;  // where to say what was passed over
};

/// Opens `path` if it is a regular file. Otherwise returns -1, and when something other than
/// nothing is there (a FIFO, a device, a directory), adds "PATH (what it is)" to
/// `not_regular` once. `*id` is the file's identity when it opens.
int open_regular(const std::string& path, std::vector<std::string>* not_regular, platform::FileId* id);

/// The find_debuginfo callback of Dwfl_Callbacks. pre: `*userdata` is the module's
/// DebugSearch. Returns a descriptor of the debug file and sets `*debuginfo_file_name`
/// (malloc'ed, libdwfl frees it), or -1 when there is none.
int find_debuginfo(Dwfl_Module* module, void** userdata, const char* module_name, Dwarf_Addr base,
                   const char* file_name, const char* debuglink, GElf_Word debuglink_crc, char** debuginfo_file_name);

/// The find_elf callback of Dwfl_Callbacks: modules are reported with a descriptor the
/// symbolizer opened (a regular file), so nothing is ever looked up by it.
int find_no_elf(Dwfl_Module* module, void** userdata, const char* module_name, Dwarf_Addr base, char** file_name,
                Elf** elf);

}  // namespace measure::detail
