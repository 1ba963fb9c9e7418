// The modules (executable and shared objects) a capture's addresses belong to. The runtime
// records raw return addresses; `measure` symbolizes them offline against this map. Each
// module carries the generation range in which it was loaded: when a module disappears
// (dlclose) the generation advances, and stacks captured afterwards carry the new generation,
// so an address is always resolved against the module that was there when it was captured.
#pragma once

#include <cstddef>
#include <cstdint>

#include "platform/platform.h"
#include "support/spinlock.h"

namespace measure::detail {

struct ModuleRecord {
  const char* path;  // owned by the map (internal memory); "" unknown
  std::uint32_t path_size;
  std::uint32_t build_id_size;
  unsigned char build_id[64];
  std::uintptr_t load_bias;
  platform::Segment segments[16];
  std::uint32_t segment_count;
  std::uint32_t first_generation;  // generations [first, end) in which the module was loaded
  std::uint32_t end_generation;    // still_loaded while it is
  bool seen;                       // scratch flag of scan()
  bool has_unwind_tables;

  static constexpr std::uint32_t still_loaded = UINT32_MAX;
  bool contains(std::uintptr_t address) const noexcept;
};

class ModuleMap {
 public:
  /// Re-reads the loaded modules: adds new ones, closes the range of vanished ones and then
  /// advances the generation. Takes the loader lock; never call from inside a hook.
  void scan() noexcept;
  /// The generation new stacks belong to.
  std::uint32_t generation() const noexcept { return __atomic_load_n(&m_generation, __ATOMIC_ACQUIRE); }
  /// Calls visit(record, context) for every module ever seen, in order of discovery.
  void for_each(void (*visit)(const ModuleRecord&, void*), void* context) noexcept;
  std::uint32_t count() noexcept;

  void lock() noexcept { m_lock.lock(); }
  void unlock() noexcept { m_lock.unlock(); }
  void reset_lock_after_fork() noexcept { m_lock.reset_after_fork(); }

 private:
  static void visit_loaded(const platform::ModuleView& view, void* self) noexcept;
  ModuleRecord* add(const platform::ModuleView& view) noexcept;

  SpinLock m_lock;
  ModuleRecord* m_records = nullptr;
  std::uint32_t m_count = 0;
  std::uint32_t m_capacity = 0;
  std::uint32_t m_generation = 0;
};

}  // namespace measure::detail
