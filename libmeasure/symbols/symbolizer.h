// Offline symbolization of a capture's return addresses with elfutils' libdw: function names
// (demangled), source files and lines, inline frames, and separate debug files found by
// build-id or .gnu_debuglink. A frame that cannot be named keeps its module and offset; no
// frame is ever dropped. Debuginfod is not consulted (network lookups cause long delays).
// Addresses the capture carries symbols for (CaptureSymbols: an imported recording) take
// those symbols and never touch their module.
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
  std::string function;    // demangled; empty when unknown
  std::string file;        // source file; empty when unknown
  std::uint32_t line = 0;  // 0 when unknown
  std::uint32_t column = 0;
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
};

class Symbolizer {
 public:
  explicit Symbolizer(const Capture& capture);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  /// The frames of one recorded return address, innermost first: an address inside inlined
  /// code expands to the inlined functions and then the function they were inlined into.
  /// Never empty. The reference stays valid for the symbolizer's lifetime.
  const std::vector<Frame>& resolve(std::uint64_t address, std::uint32_t generation);

  const SymbolizerStats& stats() const noexcept { return m_stats; }

 private:
  struct ModuleState;
  int find_module(std::uint64_t address, std::uint32_t generation) const noexcept;
  ModuleState& open(int index);

  const Capture& m_capture;
  std::vector<std::unique_ptr<ModuleState>> m_modules;
  std::map<std::pair<int, std::uint64_t>, std::vector<Frame>> m_cache;
  SymbolizerStats m_stats;
};

/// Demangles a C++ (Itanium ABI) name; returns it unchanged when it is not mangled.
std::string demangle(const std::string& name);

}  // namespace measure
