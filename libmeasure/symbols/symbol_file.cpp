#include "symbols/symbol_file.h"

#include <dwarf.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include "symbols/debug_files.h"

namespace measure {
namespace {

// Modules are reported with a descriptor of a regular file; separate debug files are found by
// debug_files.h's search, which opens nothing else (a FIFO would block the report forever).
const Dwfl_Callbacks file_callbacks = {
    .find_elf = detail::find_no_elf,
    .find_debuginfo = detail::find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = nullptr,
};

std::string attribute_string(Dwarf_Die* die, int name) {
  Dwarf_Attribute attr;
  if (dwarf_attr_integrate(die, name, &attr) == nullptr) {
    return {};
  }
  const char* s = dwarf_formstring(&attr);
  return s != nullptr ? s : std::string();
}

std::uint64_t attribute_number(Dwarf_Die* die, int name) {
  Dwarf_Attribute attr;
  Dwarf_Word value = 0;
  if (dwarf_attr(die, name, &attr) == nullptr || dwarf_formudata(&attr, &value) != 0) {
    return 0;
  }
  return value;
}

// The DIE that declares a function: concrete and inlined copies point to it through
// DW_AT_abstract_origin, out-of-class definitions through DW_AT_specification.
Dwarf_Die declaration_of(Dwarf_Die die) {
  Dwarf_Attribute attr;
  for (int hops = 0; hops < 8; ++hops) {
    if (dwarf_attr(&die, DW_AT_abstract_origin, &attr) == nullptr &&
        dwarf_attr(&die, DW_AT_specification, &attr) == nullptr) {
      break;
    }
    Dwarf_Die next;
    if (dwarf_formref_die(&attr, &next) == nullptr) {
      break;
    }
    die = next;
  }
  return die;
}

// "ns::Class::name" from the namespaces and classes that enclose the declaration.
std::string qualified_name(Dwarf_Die* die) {
  std::string name = attribute_string(die, DW_AT_name);
  if (name.empty()) {
    return name;
  }
  Dwarf_Die decl = declaration_of(*die);
  Dwarf_Die* scopes = nullptr;
  int n = dwarf_getscopes_die(&decl, &scopes);
  for (int i = 1; i < n; ++i) {
    int tag = dwarf_tag(&scopes[i]);
    const char* scope = dwarf_diename(&scopes[i]);
    if (tag == DW_TAG_namespace) {
      name.insert(0, "::").insert(0, scope != nullptr ? scope : "(anonymous namespace)");
    } else if (tag == DW_TAG_class_type || tag == DW_TAG_structure_type || tag == DW_TAG_union_type) {
      // An unnamed class is a lambda's closure type (or an anonymous struct).
      name.insert(0, "::").insert(0, scope != nullptr ? scope : "{lambda}");
    } else if (tag == DW_TAG_subprogram && scope != nullptr) {
      name.insert(0, "::").insert(0, scope);  // a local class, inside this function
    }
  }
  std::free(scopes);
  return name;
}

// The name users know a function by: the demangled linkage name (qualified, with parameter
// types) for C++, the plain name for C. Internal functions have no linkage name in DWARF;
// they get their qualified name. Every frame is named from DWARF, so a function has the same
// name whether or not it was inlined (diffs across -O0 and -O2 depend on it).
std::string function_name(Dwarf_Die* die) {
  std::string linkage = attribute_string(die, DW_AT_linkage_name);
  if (linkage.empty()) {
    linkage = attribute_string(die, DW_AT_MIPS_linkage_name);
  }
  if (!linkage.empty()) {
    return demangle(linkage);
  }
  return qualified_name(die);
}

std::string file_of(Dwarf_Die* cu, std::uint64_t index) {
  Dwarf_Files* files = nullptr;
  size_t count = 0;
  if (dwarf_getsrcfiles(cu, &files, &count) != 0 || index >= count) {
    return {};
  }
  const char* name = dwarf_filesrc(files, index, nullptr, nullptr);
  return name != nullptr ? name : std::string();
}

// A function with code: one address range of a DW_TAG_subprogram (a function can have several).
struct CodeRange {
  Dwarf_Addr low;
  Dwarf_Addr high;
  Dwarf_Die die;
};

// Every DW_TAG_subprogram range of a compilation unit, sorted by address, from one walk of
// its DIE tree. dwarf_getscopes walks the tree for every address (milliseconds in a large
// C++ unit); with the index a lookup is a binary search plus a walk of one function body.
void index_unit(Dwarf_Die* parent, std::vector<CodeRange>& out, int depth) {
  Dwarf_Die die;
  if (depth > 64 || dwarf_child(parent, &die) != 0) {
    return;
  }
  do {
    if (dwarf_tag(&die) == DW_TAG_subprogram) {
      Dwarf_Addr base = 0;
      Dwarf_Addr low = 0;
      Dwarf_Addr high = 0;
      for (ptrdiff_t at = 0; (at = dwarf_ranges(&die, at, &base, &low, &high)) > 0;) {
        out.push_back({low, high, die});
      }
    }
    if (dwarf_haschildren(&die) != 0) {
      index_unit(&die, out, depth + 1);  // namespaces, classes, and functions nested in functions
    }
  } while (dwarf_siblingof(&die, &die) == 0);
}

// The scopes of `pc` as dwarf_getscopes orders them, for the part symbolization needs: the
// inlined bodies around pc (innermost first), then the function they were inlined into.
std::vector<Dwarf_Die> function_scopes(const std::vector<CodeRange>& ranges, Dwarf_Addr pc) {
  auto after =
      std::upper_bound(ranges.begin(), ranges.end(), pc, [](Dwarf_Addr a, const CodeRange& r) { return a < r.low; });
  // Ranges of nested functions (lambdas) start inside their parent's: the latest start wins.
  const CodeRange* found = nullptr;
  for (auto it = after; it != ranges.begin() && after - it < 16;) {
    --it;
    if (pc >= it->low && pc < it->high) {
      found = &*it;
      break;
    }
  }
  std::vector<Dwarf_Die> scopes;
  if (found == nullptr) {
    return scopes;
  }
  Dwarf_Die current = found->die;
  for (int depth = 0; depth < 64; ++depth) {
    Dwarf_Die child;
    bool inside = false;
    if (dwarf_child(&current, &child) == 0) {
      do {
        int tag = dwarf_tag(&child);
        if ((tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block || tag == DW_TAG_try_block ||
             tag == DW_TAG_catch_block) &&
            dwarf_haspc(&child, pc) == 1) {
          if (tag == DW_TAG_inlined_subroutine) {
            scopes.push_back(child);
          }
          current = child;
          inside = true;
          break;
        }
      } while (dwarf_siblingof(&child, &child) == 0);
    }
    if (!inside) {
      break;
    }
  }
  std::reverse(scopes.begin(), scopes.end());
  scopes.push_back(found->die);
  return scopes;
}

struct UnitKey {
  void* cu;
  Dwarf_Off offset;
  friend bool operator==(const UnitKey&, const UnitKey&) = default;
};

struct UnitKeyHash {
  std::size_t operator()(const UnitKey& k) const noexcept {
    return std::hash<void*>()(k.cu) ^ std::hash<Dwarf_Off>()(k.offset * 0x9e3779b97f4a7c15ULL);
  }
};

}  // namespace

namespace detail {
std::string normalize_source_path(std::string path) {
  if (path.empty()) {
    return path;
  }
  return std::filesystem::path(path).lexically_normal().string();
}
}  // namespace detail

struct SymbolFile::Reader {
  Dwfl* dwfl = nullptr;
  Dwfl_Module* module = nullptr;
  detail::DebugSearch search;                                   // the module's userdata in libdwfl
  std::unordered_map<Dwarf_Off, std::vector<CodeRange>> units;  // by CU DIE offset
  std::unordered_map<UnitKey, std::string, UnitKeyHash> names;  // by declaration DIE

  const std::vector<CodeRange>& unit(Dwarf_Die* cu) {
    auto [it, inserted] = units.try_emplace(dwarf_dieoffset(cu));
    if (inserted) {
      index_unit(cu, it->second, 0);
      std::sort(it->second.begin(), it->second.end(),
                [](const CodeRange& a, const CodeRange& b) { return a.low < b.low; });
    }
    return it->second;
  }

  // function_name, once per declaration: inlined copies and concrete instances share it,
  // and naming an internal function walks its unit (dwarf_getscopes_die).
  const std::string& name(Dwarf_Die* die) {
    Dwarf_Die decl = declaration_of(*die);
    auto [it, inserted] = names.try_emplace(UnitKey{decl.cu, dwarf_dieoffset(&decl)});
    if (inserted) {
      it->second = function_name(die);
    }
    return it->second;
  }
  ~Reader() {
    if (dwfl != nullptr) {
      dwfl_end(dwfl);
    }
  }
};

SymbolFile::SymbolFile(int fd, const std::string& path, const detail::platform::FileId& id)
    : m_reader(std::make_unique<Reader>()) {
  Reader& d = *m_reader;
  d.search.main = id;
  d.search.not_regular = &m_not_regular;
  d.dwfl = dwfl_begin(&file_callbacks);
  if (d.dwfl != nullptr) {
    dwfl_report_begin(d.dwfl);
    std::string name = std::filesystem::path(path).filename().string();
    // Reported at base 0: the module's addresses are its link-time addresses, wherever a
    // process loaded it.
    d.module = dwfl_report_elf(d.dwfl, name.c_str(), path.c_str(), fd, 0, true);
    dwfl_report_end(d.dwfl, nullptr, nullptr);
  }
  if (d.module == nullptr) {
    detail::platform::close_file(fd);  // libdwfl takes the descriptor only when it reports the module
    return;
  }
  void** userdata = nullptr;
  dwfl_module_info(d.module, &userdata, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
  *userdata = &d.search;
  GElf_Addr bias = 0;
  d.search.main_alt = detail::alt_link_of(dwfl_module_getelf(d.module, &bias));
  const unsigned char* bits = nullptr;
  GElf_Addr vaddr = 0;
  int size = dwfl_module_build_id(d.module, &bits, &vaddr);
  if (size > 0) {
    m_build_id.assign(reinterpret_cast<const char*>(bits), static_cast<std::size_t>(size));
  }
  Dwarf_Addr dwarf_bias = 0;
  m_has_dwarf = dwfl_module_getdwarf(d.module, &dwarf_bias) != nullptr;
}

SymbolFile::~SymbolFile() = default;

bool SymbolFile::usable() const noexcept {
  return m_reader->module != nullptr;
}

std::vector<Frame> SymbolFile::frames(std::uint64_t offset, const Frame& base) {
  Reader& d = *m_reader;
  std::vector<Frame> frames;
  // A return address points after the call; look up the call instruction itself.
  Dwarf_Addr pc = offset - 1;
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(d.module, pc, &bias);
  // libdwfl answers with the unit whose ranges start last at or below pc, even when pc lies
  // past their end (as _start does, between the ranges of a program's units), and then with
  // that unit's last line row. Only a unit that covers pc names it.
  if (cu != nullptr && dwarf_haspc(cu, pc - bias) != 1) {
    cu = nullptr;
  }
  std::vector<Dwarf_Die> scopes;
  if (cu != nullptr) {
    scopes = function_scopes(d.unit(cu), pc - bias);
  }
  std::string file;
  std::uint32_t line = 0;
  if (Dwfl_Line* l = cu != nullptr ? dwfl_module_getsrc(d.module, pc) : nullptr) {
    int lineno = 0;
    const char* src = dwfl_lineinfo(l, nullptr, &lineno, nullptr, nullptr, nullptr);
    file = src != nullptr ? src : "";
    line = static_cast<std::uint32_t>(lineno);
  }
  for (Dwarf_Die& scope : scopes) {
    int tag = dwarf_tag(&scope);
    if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) {
      continue;
    }
    Frame f = base;
    f.function = d.name(&scope);
    f.file = detail::normalize_source_path(file);
    f.line = line;
    f.inlined = tag == DW_TAG_inlined_subroutine;
    frames.push_back(std::move(f));
    if (tag == DW_TAG_subprogram) {
      break;
    }
    // The caller's position is where this inlined body was called from.
    file = file_of(cu, attribute_number(&scope, DW_AT_call_file));
    line = static_cast<std::uint32_t>(attribute_number(&scope, DW_AT_call_line));
  }
  if (frames.empty()) {
    // No DWARF for this address: the symbol table still names the function.
    GElf_Off symbol_offset = 0;
    GElf_Sym sym;
    const char* name = dwfl_module_addrinfo(d.module, pc, &symbol_offset, &sym, nullptr, nullptr, nullptr);
    Frame f = base;
    if (name != nullptr) {
      f.function = demangle(name);
    }
    f.file = detail::normalize_source_path(file);
    f.line = line;
    frames.push_back(std::move(f));
  }
  return frames;
}

SymbolFile* SymbolFiles::open(const std::string& path, std::vector<std::string>* not_regular) {
  detail::platform::FileId id{};
  int fd = path.empty() ? -1 : detail::open_regular(path, not_regular, &id);
  std::lock_guard<std::mutex> lock(m_mutex);
  if (fd < 0) {
    // Gone since it was read (a rebuild removed it): the file read then is the one that
    // ran, if its build-id says so.
    auto read = m_paths.find(path);
    return read != m_paths.end() ? m_files.at(read->second).get() : nullptr;
  }
  m_paths.insert_or_assign(path, id);
  auto it = m_files.find(id);
  if (it != m_files.end()) {
    detail::platform::close_file(fd);
    return it->second.get();
  }
  auto file = std::make_unique<SymbolFile>(fd, path, id);
  SymbolFile* opened = file.get();
  m_files.emplace(id, std::move(file));
  return opened;
}

}  // namespace measure
