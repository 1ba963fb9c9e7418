// Linux (glibc) implementation of platform.h's module_function: a loaded module's own
// definitions, read from its dynamic symbol table without the loader's help. A file of its
// own because the audit module (hooks/audit.cpp) needs exactly this and nothing else.
#include <elf.h>
#include <link.h>
#include <string.h>

#include "platform/platform.h"

namespace measure::detail::platform {
namespace {

// The GNU hash of a symbol name (the loader's DT_GNU_HASH table).
std::uint32_t gnu_hash(const char* name) noexcept {
  std::uint32_t h = 5381;
  for (; *name != '\0'; ++name) {
    h = h * 33 + static_cast<unsigned char>(*name);
  }
  return h;
}

}  // namespace

void* module_function(const void* module, const char* name) noexcept {
  const auto* map = static_cast<const link_map*>(module);
  const ElfW(Sym)* symbols = nullptr;
  const char* strings = nullptr;
  const std::uint32_t* hash = nullptr;
  for (const ElfW(Dyn)* d = map->l_ld; d != nullptr && d->d_tag != DT_NULL; ++d) {
    // The loader relocates these entries in place, except in read-only tables (the vDSO's).
    ElfW(Addr) at = d->d_un.d_ptr < map->l_addr ? d->d_un.d_ptr + map->l_addr : d->d_un.d_ptr;
    if (d->d_tag == DT_SYMTAB) {
      symbols = reinterpret_cast<const ElfW(Sym)*>(at);
    } else if (d->d_tag == DT_STRTAB) {
      strings = reinterpret_cast<const char*>(at);
    } else if (d->d_tag == DT_GNU_HASH) {
      hash = reinterpret_cast<const std::uint32_t*>(at);
    }
  }
  if (symbols == nullptr || strings == nullptr || hash == nullptr) {
    return nullptr;
  }
  std::uint32_t buckets = hash[0];
  std::uint32_t first = hash[1];
  const auto* bucket = reinterpret_cast<const std::uint32_t*>(reinterpret_cast<const ElfW(Addr)*>(hash + 4) + hash[2]);
  const std::uint32_t* chain = bucket + buckets;
  std::uint32_t h = gnu_hash(name);
  for (std::uint32_t i = buckets == 0 ? 0 : bucket[h % buckets]; i >= first && i != 0; ++i) {
    std::uint32_t entry = chain[i - first];
    const ElfW(Sym)& s = symbols[i];
    if ((entry | 1) == (h | 1) && ::strcmp(strings + s.st_name, name) == 0 && s.st_shndx != SHN_UNDEF &&
        ELF64_ST_TYPE(s.st_info) == STT_FUNC) {
      return reinterpret_cast<void*>(map->l_addr + s.st_value);
    }
    if ((entry & 1) != 0) {
      break;
    }
  }
  return nullptr;
}

}  // namespace measure::detail::platform
