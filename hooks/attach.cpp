// The entry points `measure attach` calls inside a running process, into a copy of this
// library it loaded there (tools/attach_command.cpp). A program started without LD_PRELOAD
// never calls the hooks: its modules reach malloc and the other intercepted functions through
// their GOT entries, bound to the C library's. Attaching points those entries at the hooks;
// detaching puts back what they held. Any pointer to a hook the program took meanwhile keeps
// working afterwards: the runtime is then finished and the hooks pass every call through.
//
// The tool calls each entry point on one thread with the program's other threads stopped
// (start and stop) or running (prepare), and reads the int it returns: 0 or an errno value.
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

detail::platform::CallSlot* g_slots = nullptr;
std::size_t g_slot_count = 0;

// The slots of the modules loaded now, in memory of the toolkit's own. False without memory.
bool find_slots() noexcept {
  const char* own_path = nullptr;
  const void* own = detail::platform::module_of(reinterpret_cast<const void*>(&find_slots), &own_path);
  if (own == nullptr) {
    return false;
  }
  void* hooks[redirected_count];
  for (std::size_t i = 0; i < redirected_count; ++i) {
    // This copy's own definitions: `&malloc` here would be the program's.
    hooks[i] = detail::platform::module_function(own, redirected_names[i]);
  }
  for (std::size_t capacity = 256;; capacity *= 2) {
    auto* slots = static_cast<detail::platform::CallSlot*>(
        detail::platform::map_pages(capacity * sizeof(detail::platform::CallSlot)));
    if (slots == nullptr) {
      return false;
    }
    std::size_t found = detail::platform::find_call_slots(redirected_names, hooks, redirected_count, slots, capacity);
    if (found <= capacity) {
      g_slots = slots;
      g_slot_count = found;
      return true;
    }
    detail::platform::unmap_pages(slots, capacity * sizeof(detail::platform::CallSlot));
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
  return find_slots() ? 0 : ENOMEM;
}

// Recording on, then every slot points at its hook. Returns 0, or EBUSY when not prepared.
MEASURE_EXPORT int measure_rt_attach_start() {
  if (!measure::detail::begin_attached()) {
    return EBUSY;
  }
  for (std::size_t i = 0; i < g_slot_count; ++i) {
    const auto& slot = g_slots[i];
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
  for (std::size_t i = 0; i < g_slot_count; ++i) {
    const auto& slot = g_slots[i];
    if (measure::detail::platform::call_slot_loaded(slot) &&
        __atomic_load_n(slot.slot, __ATOMIC_ACQUIRE) == slot.replacement) {
      measure::detail::platform::write_call_slot(slot, slot.original);
    }
  }
  return measure::detail::end_attached() ? 0 : EBUSY;
}

}  // extern "C"
