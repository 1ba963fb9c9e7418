#include "stacks/module_map.h"

#include <cstring>

#include "support/internal_alloc.h"

namespace measure::detail {

bool ModuleRecord::contains(std::uintptr_t address) const noexcept {
  for (std::uint32_t i = 0; i < segment_count; ++i) {
    std::uintptr_t begin = load_bias + segments[i].vaddr;
    if (address >= begin && address < begin + segments[i].memsz) {
      return true;
    }
  }
  return false;
}

ModuleRecord* ModuleMap::add(const platform::ModuleView& view) noexcept {
  if (m_count == m_capacity) {
    std::uint32_t capacity = m_capacity == 0 ? 64 : m_capacity * 2;
    auto* grown = static_cast<ModuleRecord*>(internal_alloc(sizeof(ModuleRecord) * capacity));
    if (grown == nullptr) {
      return nullptr;
    }
    if (m_count != 0) {
      std::memcpy(grown, m_records, sizeof(ModuleRecord) * m_count);
    }
    internal_free(m_records, sizeof(ModuleRecord) * m_capacity);
    m_records = grown;
    m_capacity = capacity;
  }
  // The loader names the main program "": record the executable's real path instead.
  char executable[4096];
  const char* source = view.path;
  if (source[0] == '\0' && platform::executable_path(executable, sizeof executable)) {
    source = executable;
  }
  std::size_t path_size = std::strlen(source);
  auto* path = static_cast<char*>(internal_alloc(path_size + 1));
  if (path == nullptr) {
    return nullptr;
  }
  std::memcpy(path, source, path_size + 1);
  ModuleRecord& r = m_records[m_count++];
  std::memset(&r, 0, sizeof r);
  r.path = path;
  r.path_size = static_cast<std::uint32_t>(path_size);
  if (view.build_id != nullptr && view.build_id_size <= sizeof r.build_id) {
    std::memcpy(r.build_id, view.build_id, view.build_id_size);
    r.build_id_size = static_cast<std::uint32_t>(view.build_id_size);
  }
  r.load_bias = view.load_bias;
  r.segment_count = static_cast<std::uint32_t>(view.segment_count < 16 ? view.segment_count : 16);
  std::memcpy(r.segments, view.segments, sizeof(platform::Segment) * r.segment_count);
  r.first_generation = m_generation;
  r.end_generation = ModuleRecord::still_loaded;
  r.has_unwind_tables = view.has_eh_frame_hdr;
  r.seen = true;
  return &r;
}

void ModuleMap::visit_loaded(const platform::ModuleView& view, void* self) noexcept {
  auto* map = static_cast<ModuleMap*>(self);
  for (std::uint32_t i = 0; i < map->m_count; ++i) {
    ModuleRecord& r = map->m_records[i];
    if (r.end_generation == ModuleRecord::still_loaded && r.load_bias == view.load_bias &&
        (view.path[0] == '\0' || std::strcmp(r.path, view.path) == 0) && r.build_id_size == view.build_id_size &&
        (view.build_id_size == 0 || std::memcmp(r.build_id, view.build_id, view.build_id_size) == 0)) {
      r.seen = true;
      return;
    }
  }
  map->add(view);
}

void ModuleMap::scan() noexcept {
  SpinGuard guard(m_lock);
  for (std::uint32_t i = 0; i < m_count; ++i) {
    m_records[i].seen = false;
  }
  platform::for_each_module(&ModuleMap::visit_loaded, this);
  bool unloaded = false;
  for (std::uint32_t i = 0; i < m_count; ++i) {
    ModuleRecord& r = m_records[i];
    if (!r.seen && r.end_generation == ModuleRecord::still_loaded) {
      r.end_generation = m_generation + 1;
      unloaded = true;
    }
  }
  if (unloaded) {
    __atomic_store_n(&m_generation, m_generation + 1, __ATOMIC_RELEASE);
  }
}

void ModuleMap::for_each(void (*visit)(const ModuleRecord&, void*), void* context) noexcept {
  SpinGuard guard(m_lock);
  for (std::uint32_t i = 0; i < m_count; ++i) {
    visit(m_records[i], context);
  }
}

std::uint32_t ModuleMap::count() noexcept {
  SpinGuard guard(m_lock);
  return m_count;
}

}  // namespace measure::detail
