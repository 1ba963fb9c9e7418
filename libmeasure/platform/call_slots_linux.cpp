// Linux (ELF, glibc) implementation of platform.h's call slots: the words through which a
// loaded module calls a function of another (its GOT entries and absolute pointers), found
// from the module's dynamic relocations, and rewritten in place. `measure attach` points them
// at the hooks, which a program started without LD_PRELOAD never calls otherwise.
#include <elf.h>
#include <link.h>
#include <string.h>

#include <sys/mman.h>

#include "platform/platform.h"

namespace measure::detail::platform {
namespace {

#if defined(__x86_64__)
constexpr std::uint32_t slot_relocations[] = {R_X86_64_JUMP_SLOT, R_X86_64_GLOB_DAT, R_X86_64_64};
#elif defined(__aarch64__)
constexpr std::uint32_t slot_relocations[] = {R_AARCH64_JUMP_SLOT, R_AARCH64_GLOB_DAT, R_AARCH64_ABS64};
#else
constexpr std::uint32_t slot_relocations[] = {};
#endif

bool is_slot_relocation(std::uint32_t type) noexcept {
  for (std::uint32_t t : slot_relocations) {
    if (t == type) {
      return true;
    }
  }
  return false;
}

// The modules whose calls stay as they are: measure's own libraries (they call the originals
// themselves) and the loader (it allocates through pointers of its own).
bool skipped_module(const char* path) noexcept {
  const char* base = strrchr(path, '/');
  base = base != nullptr ? base + 1 : path;
  return strncmp(base, "libmeasure", 10) == 0 || strncmp(base, "ld-linux", 8) == 0 || strncmp(base, "ld64.so", 7) == 0;
}

struct Search {
  const char* const* names;
  void* const* replacements;
  std::size_t count;
  CallSlot* out;
  std::size_t capacity;
  std::size_t found;
  std::uintptr_t own_base;
};

// One module's relocation table: each relocation of a slot type whose symbol is one of the
// names (absolute pointers only without an addend: a pointer into the middle of a function is
// not a call of it).
void scan_relocations(Search& s, const dl_phdr_info& info, const ElfW(Rela) * table, std::size_t bytes,
                      const ElfW(Sym) * symbols, const char* strings, std::uintptr_t relro_begin,
                      std::uintptr_t relro_end, const void* module) noexcept {
  for (std::size_t i = 0; i < bytes / sizeof(ElfW(Rela)); ++i) {
    const ElfW(Rela)& r = table[i];
    auto type = static_cast<std::uint32_t>(ELF64_R_TYPE(r.r_info));
    auto symbol = static_cast<std::uint32_t>(ELF64_R_SYM(r.r_info));
    if (symbol == 0 || !is_slot_relocation(type) || (type == slot_relocations[2] && r.r_addend != 0)) {
      continue;
    }
    const char* name = strings + symbols[symbol].st_name;
    for (std::size_t n = 0; n < s.count; ++n) {
      if (strcmp(name, s.names[n]) != 0) {
        continue;
      }
      std::uintptr_t at = info.dlpi_addr + r.r_offset;
      if (s.found < s.capacity) {
        CallSlot& slot = s.out[s.found];
        slot.slot = reinterpret_cast<void**>(at);
        slot.original = *slot.slot;
        slot.replacement = s.replacements[n];
        slot.module = module;
        bool read_only = at >= relro_begin && at < relro_end;
        slot.page_begin = read_only ? at & ~(page_size() - 1) : 0;
      }
      ++s.found;
      break;
    }
  }
}

int visit_module(dl_phdr_info* info, std::size_t, void* context) noexcept {
  auto& s = *static_cast<Search*>(context);
  if (info->dlpi_addr == s.own_base || (info->dlpi_name != nullptr && skipped_module(info->dlpi_name))) {
    return 0;
  }
  const ElfW(Dyn)* dynamic = nullptr;
  std::uintptr_t relro_begin = 0;
  std::uintptr_t relro_end = 0;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& p = info->dlpi_phdr[i];
    if (p.p_type == PT_DYNAMIC) {
      dynamic = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + p.p_vaddr);
    } else if (p.p_type == PT_GNU_RELRO) {
      relro_begin = info->dlpi_addr + p.p_vaddr;
      relro_end = relro_begin + p.p_memsz;
    }
  }
  if (dynamic == nullptr) {
    return 0;  // the vDSO's table is not relocated, and has no calls to redirect
  }
  const ElfW(Sym)* symbols = nullptr;
  const char* strings = nullptr;
  const ElfW(Rela)* rela = nullptr;
  std::size_t rela_bytes = 0;
  const ElfW(Rela)* plt = nullptr;
  std::size_t plt_bytes = 0;
  bool plt_is_rela = true;
  for (const ElfW(Dyn)* d = dynamic; d->d_tag != DT_NULL; ++d) {
    // The loader relocates these entries in place (to run-time addresses).
    std::uintptr_t at = d->d_un.d_ptr < info->dlpi_addr ? d->d_un.d_ptr + info->dlpi_addr : d->d_un.d_ptr;
    switch (d->d_tag) {
      case DT_SYMTAB:
        symbols = reinterpret_cast<const ElfW(Sym)*>(at);
        break;
      case DT_STRTAB:
        strings = reinterpret_cast<const char*>(at);
        break;
      case DT_RELA:
        rela = reinterpret_cast<const ElfW(Rela)*>(at);
        break;
      case DT_RELASZ:
        rela_bytes = d->d_un.d_val;
        break;
      case DT_JMPREL:
        plt = reinterpret_cast<const ElfW(Rela)*>(at);
        break;
      case DT_PLTRELSZ:
        plt_bytes = d->d_un.d_val;
        break;
      case DT_PLTREL:
        plt_is_rela = d->d_un.d_val == DT_RELA;
        break;
      default:
        break;
    }
  }
  if (symbols == nullptr || strings == nullptr) {
    return 0;
  }
  const char* path = nullptr;
  const void* module = module_of(reinterpret_cast<void*>(info->dlpi_addr + info->dlpi_phdr[0].p_vaddr), &path);
  if (rela != nullptr) {
    scan_relocations(s, *info, rela, rela_bytes, symbols, strings, relro_begin, relro_end, module);
  }
  if (plt != nullptr && plt_is_rela) {
    scan_relocations(s, *info, plt, plt_bytes, symbols, strings, relro_begin, relro_end, module);
  }
  return 0;
}

}  // namespace

std::size_t find_call_slots(const char* const* names, void* const* replacements, std::size_t count, CallSlot* out,
                            std::size_t capacity) noexcept {
  Dl_info own{};
  if (::dladdr(reinterpret_cast<void*>(&find_call_slots), &own) == 0) {
    return 0;
  }
  Search s{names, replacements, count, out, capacity, 0, reinterpret_cast<std::uintptr_t>(own.dli_fbase)};
  ::dl_iterate_phdr(visit_module, &s);
  return s.found;
}

const void* module_of(const void* address, const char** path) noexcept {
  Dl_info info{};
  void* module = nullptr;
  if (::dladdr1(address, &info, &module, RTLD_DL_LINKMAP) == 0 || module == nullptr) {
    return nullptr;
  }
  *path = static_cast<const link_map*>(module)->l_name;
  return module;
}

std::uint64_t module_generation() noexcept {
  std::uint64_t generation = 0;
  ::dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* out) {
        *static_cast<std::uint64_t*>(out) = info->dlpi_adds + info->dlpi_subs;
        return 1;  // the counters are the loader's, in every module's record: one is enough
      },
      &generation);
  return generation;
}

bool call_slot_loaded(const CallSlot& slot) noexcept {
  dl_find_object found{};
  return ::_dl_find_object(static_cast<void*>(slot.slot), &found) == 0 && found.dlfo_link_map == slot.module;
}

bool write_call_slot(const CallSlot& slot, void* value) noexcept {
  auto* page = reinterpret_cast<void*>(slot.page_begin);
  // A slot may straddle no page (it is aligned), so one page is all a write needs.
  if (page != nullptr && ::mprotect(page, page_size(), PROT_READ | PROT_WRITE) != 0) {
    return false;
  }
  __atomic_store_n(slot.slot, value, __ATOMIC_RELEASE);
  if (page != nullptr) {
    ::mprotect(page, page_size(), PROT_READ);
  }
  return true;
}

}  // namespace measure::detail::platform
