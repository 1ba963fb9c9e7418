#include "tools/program_check.h"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <set>

namespace measure::tools {
namespace {

// Entry points of allocators that a program calls directly, bypassing malloc: the hooks see
// only the malloc family and operator new/delete.
const std::set<std::string>& direct_allocator_entry_points() {
  static const std::set<std::string> names = {
      "mi_malloc", "mi_calloc",       "mi_realloc", "mi_zalloc",  "mi_new",      // mimalloc
      "mallocx",   "rallocx",         "sdallocx",   "je_malloc",  "je_mallocx",  // jemalloc
      "tc_malloc", "tc_new",          "tc_calloc",  "tc_realloc",                // tcmalloc
      "rpmalloc",  "snmalloc_malloc",                                            // rpmalloc, snmalloc
  };
  return names;
}

const std::set<std::string>& malloc_family() {
  static const std::set<std::string> names = {"malloc", "free", "calloc", "realloc"};
  return names;
}

template <class T>
bool read_at(std::ifstream& in, std::uint64_t offset, T* out, std::size_t count = 1) {
  in.seekg(static_cast<std::streamoff>(offset));
  return static_cast<bool>(in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(sizeof(T) * count)));
}

}  // namespace

ProgramCheck check_program(const std::string& path) {
  ProgramCheck check;
  std::ifstream in(path, std::ios::binary);
  Elf64_Ehdr header{};
  if (!read_at(in, 0, &header) || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 ||
      header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_phentsize != sizeof(Elf64_Phdr) ||
      header.e_shentsize != sizeof(Elf64_Shdr)) {
    return check;
  }
  check.is_elf = true;
  bool dynamic = false;
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr ph{};
    if (!read_at(in, header.e_phoff + i * sizeof ph, &ph)) {
      return check;
    }
    dynamic = dynamic || ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC;
  }
  check.statically_linked = !dynamic;
  if (!dynamic || header.e_shnum == 0 || header.e_shnum > 4096) {
    return check;
  }
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  if (!read_at(in, header.e_shoff, sections.data(), sections.size())) {
    return check;
  }
  // .dynsym says what the program exports and imports; .symtab (when not stripped) also
  // shows a private malloc that only the executable itself calls.
  for (const Elf64_Shdr& s : sections) {
    if ((s.sh_type != SHT_DYNSYM && s.sh_type != SHT_SYMTAB) || s.sh_link >= sections.size() ||
        s.sh_entsize != sizeof(Elf64_Sym) || s.sh_size > (64U << 20)) {
      continue;
    }
    bool imports = s.sh_type == SHT_DYNSYM;

    const Elf64_Shdr& strtab = sections[s.sh_link];
    if (strtab.sh_size > (64U << 20)) {
      continue;
    }
    std::vector<char> names(strtab.sh_size + 1, '\0');
    std::vector<Elf64_Sym> symbols(s.sh_size / sizeof(Elf64_Sym));
    if (!read_at(in, strtab.sh_offset, names.data(), strtab.sh_size) ||
        !read_at(in, s.sh_offset, symbols.data(), symbols.size())) {
      continue;
    }
    for (const Elf64_Sym& sym : symbols) {
      if (sym.st_name >= strtab.sh_size || ELF64_ST_TYPE(sym.st_info) != STT_FUNC) {
        continue;
      }
      std::string name = names.data() + sym.st_name;
      bool defined = sym.st_shndx != SHN_UNDEF;
      if (defined && ELF64_ST_BIND(sym.st_info) != STB_LOCAL && malloc_family().count(name) != 0) {
        check.defines_malloc = true;
      }
      if (!defined && imports && direct_allocator_entry_points().count(name) != 0) {
        check.direct_allocator_calls.push_back(name);
      }
    }
  }
  return check;
}

}  // namespace measure::tools
