// Offline symbolization of a capture's return addresses with elfutils' libdw: function names
// (demangled), source files and lines, inline frames, and separate debug files found by
// build-id or .gnu_debuglink. A frame that cannot be named keeps its module and offset; no
// frame is ever dropped. Only regular files are opened, so no lookup blocks (debug_files.h);
// debuginfod is not consulted (network lookups cause long delays).
// Addresses the capture carries symbols for (CaptureSymbols: stored after the run, or an
// imported recording's) take those symbols and never touch their module's file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "format/capture.h"

namespace measure {

struct Frame {
  std::string function;       // demangled; empty when unknown
  std::string file;           // source file; empty when unknown
  std::uint32_t line = 0;     // 0 when unknown
  std::string module;         // path of the module; empty when the address is in no module
  std::uint64_t offset = 0;   // link-time address in the module (address minus load bias)
  std::uint64_t address = 0;  // the return address as recorded
  bool inlined = false;       // an inlined call inside the next (outer) frame

  friend bool operator==(const Frame&, const Frame&) = default;
};

struct SymbolizerStats {
  std::size_t modules_without_file = 0;       // module file missing on this machine
  std::size_t modules_build_id_mismatch = 0;  // file changed since the capture was taken
  std::size_t modules_without_debuginfo = 0;  // no DWARF: names from the symbol table only
  std::size_t modules_from_capture = 0;       // named from the symbols the capture carries
  std::size_t modules_from_files = 0;         // named from their files on this machine
  // Files a module or its debug information named that were not read because they are not
  // regular files (a FIFO would block the reader), each as "PATH (a FIFO)".
  std::vector<std::string> not_regular_files;
};

class SymbolFile;
class SymbolFiles;

class Symbolizer {
 public:
  /// Reads module files through a set of its own.
  explicit Symbolizer(const Capture& capture);
  /// Reads module files through `files` (symbols/symbol_file.h), which other symbolizers may
  /// share, so that each file is read once. pre: `files` outlives the symbolizer; nullptr
  /// gives a set of its own.
  Symbolizer(const Capture& capture, SymbolFiles* files);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  /// The frames of one recorded return address, innermost first: an address inside inlined
  /// code expands to the inlined functions and then the function they were inlined into.
  /// Never empty. The reference stays valid for the symbolizer's lifetime.
  const std::vector<Frame>& resolve(std::uint64_t address, std::uint32_t generation);

  /// The module of a recorded address: an index into Capture::modules, or -1 when the
  /// address lies in no module loaded in `generation`.
  int find_module(std::uint64_t address, std::uint32_t generation) const noexcept;

  /// The frames of `address` in module `index` as the module's file on this machine names
  /// them, ignoring what the capture carries; nullptr when the file is missing or is not the
  /// one that ran (build-id differs). Valid until the next call.
  const std::vector<Frame>* resolve_from_file(int index, std::uint64_t address);

  const SymbolizerStats& stats() const noexcept { return m_stats; }

 private:
  /// The opened file of module `index`, once per module; nullptr when it is missing, cannot
  /// be read, or is not the file that ran (counted in the stats).
  SymbolFile* open(int index);
  std::vector<Frame> file_frames(int index, std::uint64_t address, bool* usable);

  // Every module segment by start address, for find_module: `reach` is the highest end of
  // this segment and all before it, so a search backwards stops once nothing can contain the
  // address (segments of modules of different generations may overlap).
  struct Span {
    std::uint64_t begin;
    std::uint64_t end;
    std::uint64_t reach;
    int module;
  };

  const Capture& m_capture;
  std::vector<Span> m_spans;
  std::unique_ptr<SymbolFiles> m_own_files;
  SymbolFiles* m_files;
  std::vector<bool> m_opened;           // per module: open() was called
  std::vector<SymbolFile*> m_files_of;  // per module: its file, when usable
  std::vector<std::uint8_t> m_source;   // per module: bit 0 named from the capture, bit 1 from its file
  std::map<std::pair<int, std::uint64_t>, std::vector<Frame>> m_cache;
  std::vector<Frame> m_scratch;
  SymbolizerStats m_stats;
};

/// Demangles a C++ (Itanium ABI) name; returns it unchanged when it is not mangled.
std::string demangle(const std::string& name);

}  // namespace measure
