// Shared pieces of the C++ API's implementation: the runtime table, untraced sections, and
// conversions from the report model to the public types.
//
// The API's own memory must never be counted: everything the library keeps (snapshot data,
// symbolizer caches, scope sites) is allocated and freed inside Untraced sections, where the
// runtime lets allocations pass through unrecorded. Objects handed to the caller
// (vectors of statistics, strings) are built outside them: they are the caller's memory.
#pragma once

#include <mimalloc.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "api/backend.h"
#include "measure/measure.hpp"
#include "report/report.h"
#include "symbols/symbol_file.h"

namespace measure {

/// The runtime that owns the hooks (the preloaded one when there are two).
inline const measure_rt_interface& rt() noexcept {
  return *measure_rt_get();
}

/// Marks the calling thread busy for the runtime while alive; pause()/resume() open a
/// window in which allocations are traced again (building results for the caller).
class Untraced {
 public:
  Untraced() noexcept : m_previous(rt().busy_enter()) {}
  ~Untraced() { rt().busy_exit(m_previous); }
  Untraced(const Untraced&) = delete;
  Untraced& operator=(const Untraced&) = delete;
  void pause() noexcept { rt().busy_exit(m_previous); }
  void resume() noexcept { rt().busy_enter(); }

 private:
  int m_previous;
};

/// Allocates from the toolkit's own heap (mimalloc), never the program's: for objects whose
/// lifetime ends in the caller's code (shared data of values handed out).
template <class T>
struct ToolkitAllocator {
  using value_type = T;
  ToolkitAllocator() = default;
  template <class U>
  ToolkitAllocator(const ToolkitAllocator<U>&) noexcept {}  // NOLINT: rebinding converts implicitly
  T* allocate(std::size_t n) {
    void* p = mi_malloc_aligned(n * sizeof(T), alignof(T));
    if (p == nullptr) {
      throw std::bad_alloc();
    }
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { mi_free(p); }
  template <class U>
  bool operator==(const ToolkitAllocator<U>&) const noexcept {
    return true;
  }
};

/// Gives the implementation access to Key's private fields.
struct detail_access {
  static Key make_key(const RowKey& key, By by, std::shared_ptr<const std::vector<StackFrame>> frame_table,
                      std::vector<std::uint32_t> frames, std::string identity);
  static const std::string& identity(const Key& key) noexcept { return key.m_identity; }
};

StackFrame public_frame(const Frame& frame);
std::vector<StackFrame> public_frames(const std::vector<Frame>& frames);
/// The reverse: public frames as the report model's, for its key and frame functions.
Frame internal_frame(const StackFrame& frame);
std::vector<Frame> internal_frames(const std::vector<StackFrame>& frames);
GroupBy group_by(By by) noexcept;

/// The module files the API reads symbols from, shared by every live snapshot (so a file is
/// read once while any snapshot that needs it lives, and closed when the last one goes).
/// pre: inside Untraced.
std::shared_ptr<SymbolFiles> shared_symbol_files();
/// Held while a symbolizer reads shared files: a file is read by one thread at a time.
std::mutex& symbolization_mutex() noexcept;

/// The frames of the runtime's stack `stack_id`, innermost first, into `frames`; false for an
/// unknown id. pre: inside Untraced (the vector allocates).
bool runtime_frames(std::uint32_t stack_id, PackedList<std::uint64_t>* frames);
/// Symbolizes a runtime stack (by id) against the modules loaded now. pre: inside Untraced.
std::vector<Frame> runtime_stack(std::uint32_t stack_id);

}  // namespace measure
