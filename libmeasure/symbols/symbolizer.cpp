#include "symbols/symbolizer.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "symbols/symbol_file.h"

namespace measure {

std::string demangle(const std::string& name) {
  if (name.size() < 2 || name[0] != '_' || name[1] != 'Z') {
    return name;
  }
  int status = 0;
  char* out = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  if (out == nullptr || status != 0) {
    std::free(out);
    return name;  // keep the mangled name rather than nothing
  }
  std::string result(out);
  std::free(out);
  return result;
}

namespace {

// Frames the capture carries (stored after the run, or an imported recording's), on top of
// `base`, which says where the address is.
std::vector<Frame> carried_frames(const CaptureSymbols& symbols, const std::vector<SymbolFrame>& carried, Frame base) {
  std::vector<Frame> frames;
  frames.reserve(carried.size());
  for (std::size_t i = 0; i < carried.size(); ++i) {
    Frame f = base;
    f.function = symbols.string(carried[i].function);
    f.file = detail::normalize_source_path(symbols.string(carried[i].file));
    f.line = carried[i].line;
    f.inlined = i + 1 < carried.size();
    frames.push_back(std::move(f));
  }
  if (frames.empty()) {
    frames.push_back(std::move(base));
  }
  return frames;
}

}  // namespace

Symbolizer::Symbolizer(const Capture& capture) : Symbolizer(capture, nullptr) {}

Symbolizer::Symbolizer(const Capture& capture, SymbolFiles* files)
    : m_capture(capture),
      m_own_files(files == nullptr ? std::make_unique<SymbolFiles>() : nullptr),
      m_files(files != nullptr ? files : m_own_files.get()),
      m_opened(capture.modules.size()),
      m_files_of(capture.modules.size()),
      m_source(capture.modules.size()) {
  for (std::size_t i = 0; i < capture.modules.size(); ++i) {
    const Module& m = capture.modules[i];
    for (const Segment& s : m.segments) {
      std::uint64_t begin = m.load_bias + s.vaddr;
      if (s.memsz != 0 && begin + s.memsz > begin) {
        m_spans.push_back({begin, begin + s.memsz, 0, static_cast<int>(i)});
      }
    }
  }
  // By start; among equal starts, the module listed first is found first (as before the index).
  std::stable_sort(m_spans.begin(), m_spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::uint64_t reach = 0;
  for (Span& s : m_spans) {
    reach = std::max(reach, s.end);
    s.reach = reach;
  }
}

Symbolizer::~Symbolizer() = default;

int Symbolizer::find_module(std::uint64_t address, std::uint32_t generation) const noexcept {
  auto after = std::upper_bound(m_spans.begin(), m_spans.end(), address,
                                [](std::uint64_t a, const Span& s) { return a < s.begin; });
  int found = -1;
  for (auto it = after; it != m_spans.begin();) {
    --it;
    if (it->reach <= address) {
      break;
    }
    if (address < it->end && m_capture.modules[static_cast<std::size_t>(it->module)].loaded_in(generation) &&
        (found < 0 || it->module < found)) {
      found = it->module;  // the first module in the capture's list wins, as a linear search would
    }
  }
  return found;
}

SymbolFile* Symbolizer::open(int index) {
  auto module = static_cast<std::size_t>(index);
  if (m_opened[module]) {
    return m_files_of[module];
  }
  m_opened[module] = true;
  const Module& m = m_capture.modules[module];
  SymbolFile* file = m_files->open(m.path, &m_stats.not_regular_files);
  if (file == nullptr || !file->usable()) {
    ++m_stats.modules_without_file;
    return nullptr;
  }
  for (const std::string& passed_over : file->not_regular_files()) {
    if (std::find(m_stats.not_regular_files.begin(), m_stats.not_regular_files.end(), passed_over) ==
        m_stats.not_regular_files.end()) {
      m_stats.not_regular_files.push_back(passed_over);
    }
  }
  // A file rebuilt since the capture would give confident wrong names: refuse it.
  if (!m.build_id.empty() && file->build_id() != m.build_id) {
    ++m_stats.modules_build_id_mismatch;
    return nullptr;
  }
  if (!file->has_dwarf()) {
    ++m_stats.modules_without_debuginfo;
  }
  m_files_of[module] = file;
  return file;
}

const std::vector<Frame>& Symbolizer::resolve(std::uint64_t address, std::uint32_t generation) {
  int index = find_module(address, generation);
  auto key = std::make_pair(index, address);
  if (auto it = m_cache.find(key); it != m_cache.end()) {
    return it->second;
  }
  Frame base;
  base.address = address;
  if (const AddressSymbols* carried = m_capture.symbols.find(address)) {
    base.module = m_capture.symbols.string(carried->module);
    base.offset = carried->offset;
    return m_cache.emplace(key, carried_frames(m_capture.symbols, carried->frames, base)).first->second;
  }
  if (index < 0) {
    return m_cache.emplace(key, std::vector<Frame>{base}).first->second;
  }
  auto module = static_cast<std::size_t>(index);
  const Module& m = m_capture.modules[module];
  if (const OffsetSymbols* stored = m_capture.symbols.find(static_cast<std::uint32_t>(index), address - m.load_bias)) {
    if ((m_source[module] & 1U) == 0) {
      m_source[module] |= 1U;
      ++m_stats.modules_from_capture;
    }
    base.module = m.path;
    base.offset = address - m.load_bias;
    return m_cache.emplace(key, carried_frames(m_capture.symbols, stored->frames, base)).first->second;
  }
  bool usable = false;
  std::vector<Frame> frames = file_frames(index, address, &usable);
  if (usable && (m_source[module] & 2U) == 0) {
    m_source[module] |= 2U;
    ++m_stats.modules_from_files;
  }
  return m_cache.emplace(key, std::move(frames)).first->second;
}

const std::vector<Frame>* Symbolizer::resolve_from_file(int index, std::uint64_t address) {
  bool usable = false;
  m_scratch = file_frames(index, address, &usable);
  return usable ? &m_scratch : nullptr;
}

std::vector<Frame> Symbolizer::file_frames(int index, std::uint64_t address, bool* usable) {
  const Module& m = m_capture.modules[static_cast<std::size_t>(index)];
  Frame base;
  base.address = address;
  base.module = m.path;
  base.offset = address - m.load_bias;
  SymbolFile* file = open(index);
  *usable = file != nullptr;
  if (file == nullptr) {
    return {base};
  }
  return file->frames(base.offset, base);
}

}  // namespace measure
