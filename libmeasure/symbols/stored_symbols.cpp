#include "symbols/stored_symbols.h"

#include <algorithm>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace measure {
namespace {

// The string table of CaptureSymbols with a lookup, so each distinct name is stored once.
class StringTable {
 public:
  explicit StringTable(std::vector<std::string>& strings) : m_strings(strings) {
    for (std::size_t i = 0; i < strings.size(); ++i) {
      m_index.try_emplace(strings[i], static_cast<std::uint32_t>(i + 1));
    }
  }

  std::uint32_t intern(const std::string& text) {
    if (text.empty()) {
      return 0;
    }
    auto [it, inserted] = m_index.try_emplace(text, static_cast<std::uint32_t>(m_strings.size() + 1));
    if (inserted) {
      m_strings.push_back(text);
    }
    return it->second;
  }

 private:
  std::vector<std::string>& m_strings;
  std::unordered_map<std::string, std::uint32_t> m_index;
};

struct Wanted {
  std::uint32_t module;
  std::uint64_t offset;
  std::uint64_t address;  // one run-time address at that offset
};

struct AddressKeyHash {
  std::size_t operator()(const std::pair<std::uint64_t, std::uint32_t>& k) const noexcept {
    return std::hash<std::uint64_t>()(k.first * 0x9e3779b97f4a7c15ULL ^ k.second);
  }
};

// Every (module, offset) of a recorded return address that the capture carries no frames for.
std::vector<Wanted> wanted_offsets(const Capture& capture, const Symbolizer& symbolizer) {
  std::unordered_set<std::pair<std::uint64_t, std::uint32_t>, AddressKeyHash> seen;
  // The same few thousand return addresses recur in millions of frames: a direct-mapped
  // filter of addresses already seen spares the set most lookups (the set alone decides).
  constexpr std::size_t filter_size = 4096;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> filter(filter_size, {0, UINT32_MAX});
  std::vector<Wanted> wanted;
  for (const Stack& stack : capture.stacks) {
    for (std::uint64_t address : stack.frames) {
      std::pair<std::uint64_t, std::uint32_t> key{address, stack.generation};
      auto& recent = filter[AddressKeyHash()(key) & (filter_size - 1)];
      if (recent == key) {
        continue;
      }
      recent = key;
      if (!seen.insert(key).second || capture.symbols.find(address) != nullptr) {
        continue;
      }
      int index = symbolizer.find_module(address, stack.generation);
      if (index < 0) {
        continue;
      }
      auto module = static_cast<std::uint32_t>(index);
      std::uint64_t offset = address - capture.modules[module].load_bias;
      if (capture.symbols.find(module, offset) == nullptr) {
        wanted.push_back({module, offset, address});
      }
    }
  }
  std::sort(wanted.begin(), wanted.end(), [](const Wanted& a, const Wanted& b) {
    return std::tie(a.module, a.offset) < std::tie(b.module, b.offset);
  });
  wanted.erase(
      std::unique(wanted.begin(), wanted.end(),
                  [](const Wanted& a, const Wanted& b) { return a.module == b.module && a.offset == b.offset; }),
      wanted.end());
  return wanted;
}

// `added` (sorted by offset) into `into` (sorted by offset, no offset in common).
void merge_offsets(std::vector<OffsetSymbols>& into, std::vector<OffsetSymbols>&& added) {
  std::vector<OffsetSymbols> merged;
  merged.reserve(into.size() + added.size());
  std::merge(std::make_move_iterator(into.begin()), std::make_move_iterator(into.end()),
             std::make_move_iterator(added.begin()), std::make_move_iterator(added.end()), std::back_inserter(merged),
             [](const OffsetSymbols& a, const OffsetSymbols& b) { return a.offset < b.offset; });
  into = std::move(merged);
}

}  // namespace

StoreSymbolsResult store_symbols(Capture& capture, SymbolFiles* files) {
  StoreSymbolsResult result;
  std::vector<ModuleSymbols> added;
  {
    Symbolizer symbolizer(capture, files);
    std::vector<Wanted> wanted = wanted_offsets(capture, symbolizer);
    // The table grows while the symbolizer reads capture.symbols: collect into a copy.
    std::vector<std::string> strings = capture.symbols.strings;
    StringTable table(strings);
    std::vector<bool> unreadable(capture.modules.size());
    for (const Wanted& w : wanted) {
      const std::vector<Frame>* frames = symbolizer.resolve_from_file(static_cast<int>(w.module), w.address);
      if (frames == nullptr) {
        ++result.offsets_left;
        unreadable[w.module] = true;
        continue;
      }
      if (added.empty() || added.back().module != w.module) {
        added.push_back({w.module, {}});
      }
      OffsetSymbols& entry = added.back().offsets.emplace_back();
      entry.offset = w.offset;
      // An unnamed address (the module's own frame) keeps no frames: module+offset.
      if (frames->size() != 1 || !frames->front().function.empty() || !frames->front().file.empty()) {
        for (const Frame& f : *frames) {
          entry.frames.push_back({table.intern(f.function), table.intern(f.file), f.line});
        }
      }
      ++result.offsets_added;
    }
    for (std::size_t m = 0; m < unreadable.size(); ++m) {
      if (unreadable[m]) {
        result.unreadable_modules.push_back(capture.modules[m].path);
      }
    }
    result.stats = symbolizer.stats();
    capture.symbols.strings = std::move(strings);
  }
  result.modules_added = added.size();
  std::vector<ModuleSymbols>& modules = capture.symbols.modules;
  for (ModuleSymbols& m : added) {
    auto it = std::lower_bound(modules.begin(), modules.end(), m.module,
                               [](const ModuleSymbols& s, std::uint32_t index) { return s.module < index; });
    if (it != modules.end() && it->module == m.module) {
      merge_offsets(it->offsets, std::move(m.offsets));
    } else {
      modules.insert(it, std::move(m));
    }
  }
  return result;
}

}  // namespace measure
