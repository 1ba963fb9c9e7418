// The entry points `measure attach` calls inside a running process, into a copy of this
// library it loaded there (tools/attach_command.cpp). A program started without LD_PRELOAD
// never calls the hooks: its modules reach malloc and the other intercepted functions through
// their GOT entries, bound to the C library's. Attaching points those entries at the hooks;
// detaching puts back what they held. Any pointer to a hook the program took meanwhile keeps
// working afterwards: the runtime is then finished and the hooks pass every call through.
//
// The tool calls each entry point on one thread with the program's other threads stopped
// (start and stop) or running (prepare), and reads the int it returns: 0 or an errno value.
#include <atomic>
#include <cerrno>
#include <cstring>

#include "hooks/hooks.h"
#include "platform/platform.h"

namespace measure::hooks {
namespace {

// Every intercepted allocation function, C and C++, by the name a module's relocations use.
constexpr const char* redirected_names[] = {
#define MEASURE_C_NAME(name, ret, params, required) #name,
    MEASURE_HOOKED_C_FUNCTIONS(MEASURE_C_NAME)
#undef MEASURE_C_NAME
#define MEASURE_CXX_NAME(field, symbol, ret, params) symbol,
        MEASURE_HOOKED_CXX_FUNCTIONS(MEASURE_CXX_NAME)
#undef MEASURE_CXX_NAME
};
constexpr std::size_t redirected_count = sizeof redirected_names / sizeof redirected_names[0];

// The slots found, published whole: the runtime's thread replaces the table when libraries
// are loaded while `measure_rt_attach_stop` may read it (with that thread stopped).
struct SlotTable {
  std::size_t bytes;  // of the mapping that holds the table and its slots
  std::size_t count;
  detail::platform::CallSlot slots[1];
};
std::atomic<SlotTable*> g_table{nullptr};
std::uint64_t g_generation = 0;  // the loader's module generation g_table was found in

// The slots of the modules loaded now, in memory of the toolkit's own; nullptr without memory.
SlotTable* find_slots() noexcept {
  const char* own_path = nullptr;
  const void* own = detail::platform::module_of(reinterpret_cast<const void*>(&find_slots), &own_path);
  if (own == nullptr) {
    return nullptr;
  }
  void* hooks[redirected_count];
  for (std::size_t i = 0; i < redirected_count; ++i) {
    // This copy's own definitions: `&malloc` here would be the program's.
    hooks[i] = detail::platform::module_function(own, redirected_names[i]);
  }
  for (std::size_t capacity = 256;; capacity *= 2) {
    std::size_t bytes = sizeof(SlotTable) + capacity * sizeof(detail::platform::CallSlot);
    auto* table = static_cast<SlotTable*>(detail::platform::map_pages(bytes));
    if (table == nullptr) {
      return nullptr;
    }
    table->bytes = bytes;
    table->count = detail::platform::find_call_slots(redirected_names, hooks, redirected_count, table->slots, capacity);
    if (table->count <= capacity) {
      return table;
    }
    detail::platform::unmap_pages(table, bytes);
  }
}

bool recording() noexcept {
  return detail::runtime().current() == detail::RuntimeState::recording;
}

// The runtime's thread, while recording, ten times a second: the libraries loaded since the
// last look have their calls redirected too (a library's first calls, in between, are not
// seen).
void redirect_new_modules() noexcept {
  std::uint64_t generation = detail::platform::module_generation();
  if (generation == g_generation) {
    return;
  }
  SlotTable* fresh = find_slots();
  if (fresh == nullptr) {
    return;  // no memory now: the next look tries again
  }
  g_generation = generation;
  SlotTable* old = g_table.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < fresh->count; ++i) {
    detail::platform::CallSlot& slot = fresh->slots[i];
    bool known = false;
    for (std::size_t k = 0; old != nullptr && k < old->count && !known; ++k) {
      if (old->slots[k].slot == slot.slot && old->slots[k].module == slot.module) {
        slot.original = old->slots[k].original;  // it holds the hook now
        known = true;
      }
    }
    if (!known && recording()) {
      detail::platform::write_call_slot(slot, slot.replacement);
    }
  }
  g_table.store(fresh, std::memory_order_release);
  if (old != nullptr) {
    detail::platform::unmap_pages(old, old->bytes);
  }
}

}  // namespace

bool loaded_for_attach() noexcept {
  const char* path = nullptr;
  if (detail::platform::module_of(reinterpret_cast<const void*>(&loaded_for_attach), &path) == nullptr) {
    return false;
  }
  const char* base = std::strrchr(path, '/');
  return std::strcmp(base != nullptr ? base + 1 : path, "libmeasure_attach.so") == 0;
}

}  // namespace measure::hooks

using namespace measure::hooks;

extern "C" {

// `settings`: the MEASURE_* variables `measure run` would set, as "NAME=value" lines. Sets up
// the runtime without recording and finds the slots to redirect.
MEASURE_EXPORT int measure_rt_attach_prepare(const char* settings) {
  constexpr std::size_t max_settings = 32;
  std::size_t size = std::strlen(settings) + 1;
  auto* copy = static_cast<char*>(measure::detail::platform::map_pages(size));
  if (copy == nullptr) {
    return ENOMEM;
  }
  std::memcpy(copy, settings, size);
  char* entries[max_settings + 1] = {};
  std::size_t n = 0;
  for (char* line = copy; *line != '\0' && n < max_settings;) {
    entries[n++] = line;
    char* end = std::strchr(line, '\n');
    if (end == nullptr) {
      break;
    }
    *end = '\0';
    line = end + 1;
  }
  // The hooks are this copy's now: the C++ hooks may allocate directly again.
  g_malloc_owner = MallocOwner::self;
  g_cxx_decided.store(false, std::memory_order_release);
  resolve_cxx_originals();
  // As resolve_originals decides for a preloaded copy: block sizes are asked only of the
  // allocator that made the blocks.
  if (g_originals.malloc_usable_size != nullptr &&
      measure::detail::platform::same_module(reinterpret_cast<const void*>(g_originals.malloc),
                                             reinterpret_cast<const void*>(g_originals.malloc_usable_size))) {
    measure::detail::runtime().usable_size = g_originals.malloc_usable_size;
  }
  if (int rc = measure::detail::prepare_attached(entries); rc != 0) {
    return rc;
  }
  BusyScope busy;
  SlotTable* table = find_slots();
  if (table == nullptr) {
    return ENOMEM;
  }
  g_generation = measure::detail::platform::module_generation();
  g_table.store(table, std::memory_order_release);
  measure::detail::runtime().redirect_new_modules = &redirect_new_modules;
  return 0;
}

// Recording on, then every slot points at its hook. Returns 0, or EBUSY when not prepared.
MEASURE_EXPORT int measure_rt_attach_start() {
  if (!measure::detail::begin_attached()) {
    return EBUSY;
  }
  SlotTable* table = g_table.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < table->count; ++i) {
    const auto& slot = table->slots[i];
    if (measure::detail::platform::call_slot_loaded(slot)) {
      measure::detail::platform::write_call_slot(slot, slot.replacement);
    }
  }
  return 0;
}

// Every slot still pointing at its hook gets back what it held, then recording ends and the
// background thread writes the capture. Returns 0, or EBUSY when not recording.
MEASURE_EXPORT int measure_rt_attach_stop() {
  if (measure::detail::runtime().current() != measure::detail::RuntimeState::recording) {
    return EBUSY;
  }
  SlotTable* table = g_table.load(std::memory_order_acquire);
  for (std::size_t i = 0; table != nullptr && i < table->count; ++i) {
    const auto& slot = table->slots[i];
    if (measure::detail::platform::call_slot_loaded(slot) &&
        __atomic_load_n(slot.slot, __ATOMIC_ACQUIRE) == slot.replacement) {
      measure::detail::platform::write_call_slot(slot, slot.original);
    }
  }
  return measure::detail::end_attached() ? 0 : EBUSY;
}

}  // extern "C"
