// One module file opened for symbolization, and the set of them a process keeps open.
//
// A SymbolFile depends on the file alone, never on where a process loaded it: it answers for
// link-time addresses (a recorded address minus its module's load bias). So one opened file
// serves every capture that names it, whichever process it was loaded in and at whatever
// address. That matters because opening is the expensive part: a distribution's separate
// debug files carry compressed DWARF (libc's inflates to about 10 MB), which libdw inflates
// whole when the file is opened.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "platform/platform.h"
#include "symbols/symbolizer.h"

namespace measure {

class SymbolFile {
 public:
  /// Reads the module file open on `fd` (a regular file, named `path`) and finds its debug
  /// information (symbols/debug_files.h). Takes `fd` when the file is an ELF file libdwfl can
  /// report, and closes it otherwise. Never throws for a file it cannot read: usable() is
  /// then false. Files passed over because they are not regular files are listed in
  /// not_regular_files().
  SymbolFile(int fd, const std::string& path, const detail::platform::FileId& id);
  ~SymbolFile();
  SymbolFile(const SymbolFile&) = delete;
  SymbolFile& operator=(const SymbolFile&) = delete;

  /// Whether the file could be read as a module.
  bool usable() const noexcept;
  /// Whether DWARF was found for it (else names come from its symbol table only).
  bool has_dwarf() const noexcept { return m_has_dwarf; }
  /// The file's GNU build-id, as raw bytes; empty when it has none.
  const std::string& build_id() const noexcept { return m_build_id; }
  const std::vector<std::string>& not_regular_files() const noexcept { return m_not_regular; }

  /// The frames of the return address whose link-time address is `offset`, innermost first,
  /// each a copy of `base` with the function, file, line and inlined flag filled in (an
  /// address inside inlined code expands to the inlined functions, then the function they
  /// were inlined into). Never empty; base alone when nothing names it. pre: usable().
  std::vector<Frame> frames(std::uint64_t offset, const Frame& base);

 private:
  struct Reader;  // libdwfl's handles and what was indexed from them
  std::unique_ptr<Reader> m_reader;
  bool m_has_dwarf = false;
  std::string m_build_id;
  std::vector<std::string> m_not_regular;
};

/// The module files a process opened for symbolization, by file identity (every path of one
/// file, a symbolic link's included, finds the same one). Thread-safe: a file is opened by one
/// caller while the others wait for it, and each file is read once however many symbolizers
/// use it. A SymbolFile itself is used by one thread at a time. Files stay open, and their
/// DWARF in memory, until the set is destroyed.
class SymbolFiles {
 public:
  /// The opened file at `path`, opening it on first use; nullptr when there is no regular
  /// file there and none was read from that path before (a file read and then removed stays
  /// readable: its descriptor is kept). Adds "PATH (what it is)" to `not_regular` (when given) for a path that names
  /// something other than a regular file. The pointer stays valid for the set's lifetime.
  SymbolFile* open(const std::string& path, std::vector<std::string>* not_regular = nullptr);

 private:
  struct IdLess {
    bool operator()(const detail::platform::FileId& a, const detail::platform::FileId& b) const noexcept {
      return std::pair(a.device, a.inode) < std::pair(b.device, b.inode);
    }
  };
  std::mutex m_mutex;
  std::map<detail::platform::FileId, std::unique_ptr<SymbolFile>, IdLess> m_files;
  std::map<std::string, detail::platform::FileId> m_paths;  // the file last read from each path
};

namespace detail {
/// A source path as reports show it: lexically normalized ("a/./b/../c" is "a/c").
std::string normalize_source_path(std::string path);
}  // namespace detail

}  // namespace measure
