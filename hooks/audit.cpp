// libmeasure_audit.so: a glibc audit module (rtld-audit(7), LD_AUDIT) that `measure run` loads
// beside the preload so that libraries opened with RTLD_DEEPBIND are traced too. Such a
// library looks symbols up in its own dependencies first, so its calls to malloc bind to
// libc's and pass the preload by. The loader reports every symbol binding to la_symbind64:
// when a library is relocated (before its constructors run) and, for lazy bindings, at the
// first call. A binding of an intercepted function to exactly the definition the preload
// forwards to is redirected to the preload's hook, which calls that same definition: the
// program gets the same function, now seen. Nothing else changes: lookups by dlsym (the
// preload finds its originals that way), bindings to any other definition (a library's own
// allocator), modules of other namespaces (dlmopen), programs without the preload.
//
// It runs inside the loader, in a namespace of its own: no allocation, no locks, no I/O.
#include <link.h>
#include <string.h>

#include <atomic>

#include "hooks/hooked_functions.h"
#include "platform/platform.h"

namespace {

using measure::detail::platform::module_function;

constexpr const char* g_names[] = {
#define MEASURE_AUDIT_C_NAME(name, result, params, required) #name,
    MEASURE_HOOKED_C_FUNCTIONS(MEASURE_AUDIT_C_NAME)
#undef MEASURE_AUDIT_C_NAME
#define MEASURE_AUDIT_CXX_NAME(field, mangled, result, params) mangled,
        MEASURE_HOOKED_CXX_FUNCTIONS(MEASURE_AUDIT_CXX_NAME)
#undef MEASURE_AUDIT_CXX_NAME
#define MEASURE_AUDIT_PROCESS_NAME(name, result, params) #name,
            MEASURE_HOOKED_PROCESS_FUNCTIONS(MEASURE_AUDIT_PROCESS_NAME)
#undef MEASURE_AUDIT_PROCESS_NAME
};
constexpr unsigned name_count = sizeof g_names / sizeof g_names[0];

// The module whose hooks receive the program's allocations: the first of the base namespace
// that carries the runtime (LD_PRELOAD puts it right after the executable). Written in
// la_objopen, under the loader lock.
std::atomic<const link_map*> g_hooks{nullptr};

// Per intercepted name, found once: the hook, and the module that defines the original the
// hook forwards to (the first definition after the hooks' module, RTLD_NEXT's answer). Lazy
// bindings come from any thread without the loader lock; both values are the same whoever
// computes them first.
struct Redirect {
  std::atomic<void*> hook{nullptr};
  std::atomic<const link_map*> original{nullptr};
};
Redirect g_redirects[name_count];

int name_index(const char* name) noexcept {
  // Most bindings are of other functions; C++ names other than operators new and delete
  // (_Znwm, _Zdl...) start with _ZN, _ZS or _ZT.
  if (name[0] == '_' && name[1] == 'Z' && name[2] != 'n' && name[2] != 'd') {
    return -1;
  }
  for (unsigned i = 0; i < name_count; ++i) {
    if (name[0] == g_names[i][0] && strcmp(name, g_names[i]) == 0) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// The hook for g_names[index] when `definition` is the original it forwards to; else nullptr.
void* redirect_target(const link_map* hooks, int index, const link_map* definition) noexcept {
  Redirect& r = g_redirects[index];
  void* hook = r.hook.load(std::memory_order_acquire);
  if (hook == nullptr) {
    hook = module_function(hooks, g_names[index]);
    if (hook == nullptr) {
      return nullptr;
    }
    r.hook.store(hook, std::memory_order_release);
  }
  const link_map* original = r.original.load(std::memory_order_acquire);
  if (original == nullptr) {
    for (const link_map* map = hooks->l_next; map != nullptr; map = map->l_next) {
      if (module_function(map, g_names[index]) != nullptr) {
        original = map;
        break;
      }
    }
    if (original == nullptr) {
      return nullptr;
    }
    r.original.store(original, std::memory_order_release);
  }
  return original == definition ? hook : nullptr;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) unsigned int la_version(unsigned int version) {
  return version < LAV_CURRENT ? version : LAV_CURRENT;
}

__attribute__((visibility("default"))) unsigned int la_objopen(link_map* map, Lmid_t lmid, uintptr_t* /*cookie*/) {
  if (lmid != LM_ID_BASE) {
    return 0;
  }
  if (g_hooks.load(std::memory_order_relaxed) == nullptr && module_function(map, "measure_rt_get") != nullptr) {
    g_hooks.store(map, std::memory_order_release);
  }
  return LA_FLG_BINDTO | LA_FLG_BINDFROM;
}

// The cookies are the loader's default: each module's link_map.
__attribute__((visibility("default"))) uintptr_t la_symbind64(Elf64_Sym* symbol, unsigned int /*index*/,
                                                              uintptr_t* from_cookie, uintptr_t* to_cookie,
                                                              unsigned int* flags, const char* name) {
  const link_map* hooks = g_hooks.load(std::memory_order_acquire);
  const auto* from = reinterpret_cast<const link_map*>(*from_cookie);
  const auto* to = reinterpret_cast<const link_map*>(*to_cookie);
  if (hooks == nullptr || (*flags & LA_SYMB_DLSYM) != 0 || from == hooks || to == hooks) {
    return symbol->st_value;
  }
  int index = name_index(name);
  void* hook = index < 0 ? nullptr : redirect_target(hooks, index, to);
  return hook != nullptr ? reinterpret_cast<uintptr_t>(hook) : symbol->st_value;
}

}  // extern "C"
