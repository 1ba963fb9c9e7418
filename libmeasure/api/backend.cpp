// The runtime's side of runtime_interface.h, and the public C API (measure.h) on top of it.
// Everything here runs on the caller's thread, outside any hook, so it sets the busy flag
// itself wherever the runtime might allocate through the program's allocator.
#include "api/backend.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "format/byte_buffer.h"
#include "format/runtime_encoder.h"
#include "format/runtime_files.h"
#include "record/record.h"
#include "runtime/process_memory.h"
#include "support/internal_alloc.h"
#include "threads/threads.h"

namespace measure::detail {
namespace {

bool tracing_now() noexcept {
  return runtime().current() == RuntimeState::recording;
}

int rt_is_tracing() {
  return tracing_now() ? 1 : 0;
}

int rt_busy_enter() {
  bool previous = t_busy;
  t_busy = true;
  return previous ? 1 : 0;
}

void rt_busy_exit(int previous) {
  t_busy = previous != 0;
}

measure_traced_memory_t rt_traced_memory() {
  if (!tracing_now()) {
    return {0, 0};
  }
  ProcessMemory memory = process_memory(runtime());
  return {memory.live, memory.peak};
}

void rt_reset_peak() {
  if (tracing_now()) {
    reset_process_peak(runtime());
  }
}

measure_thread_memory_t rt_thread_traced_memory() {
  if (!tracing_now()) {
    return {0, 0};
  }
  BusyScope busy;
  ThreadState* thread = current_thread();
  return thread == nullptr ? measure_thread_memory_t{0, 0}
                           : measure_thread_memory_t{thread->net_bytes, thread->peak_net_bytes};
}

void rt_reset_thread_peak() {
  if (!tracing_now()) {
    return;
  }
  BusyScope busy;
  if (ThreadState* thread = current_thread()) {
    store_relaxed(thread->peak_net_bytes, thread->net_bytes);
  }
}

// Names are usually string literals: a per-thread cache keyed by address (checked by content)
// keeps the process-wide registry and its lock off the common path.
std::uint32_t scope_name_id(ThreadState& thread, const char* name, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  ThreadState::NameSlot& slot = thread.name_slot(name);
  std::size_t known_size = 0;
  if (slot.text == name && slot.size == size) {
    const char* known = runtime().scope_names.name(slot.id, &known_size);
    if (known != nullptr && known_size == size && std::memcmp(known, name, size) == 0) {
      return slot.id;
    }
  }
  std::uint32_t id = runtime().scope_names.intern(name, size);
  slot = ThreadState::NameSlot{name, size, id};
  return id;
}

int rt_scope_begin(const char* name, std::size_t name_size) {
  RuntimeState state = runtime().current();
  if (state != RuntimeState::recording && state != RuntimeState::finished) {
    return 0;  // never traced here: begin and end both do nothing
  }
  BusyScope busy;
  ThreadState* thread = current_thread();
  if (thread == nullptr) {
    return 0;
  }
  if (state != RuntimeState::recording) {
    thread->scopes.begin_placeholder();  // after the final capture: pairs with its end()
    return 0;
  }
  if (!thread->scopes.begin(scope_name_id(*thread, name, name_size))) {
    runtime().diagnostics.scopes_too_deep.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  return 1;
}

// Starts a scope call: zeros `totals`, no sites. The thread's state when its scopes can be
// used now (while recording or after the final capture), else nullptr.
ThreadState* scope_thread(measure_scope_totals_t* totals, measure_rt_site** sites, std::uint32_t* site_count) {
  if (totals != nullptr) {
    *totals = measure_scope_totals_t{};
  }
  if (sites != nullptr) {
    *sites = nullptr;
    *site_count = 0;
  }
  RuntimeState state = runtime().current();
  if (state != RuntimeState::recording && state != RuntimeState::finished) {
    return nullptr;
  }
  return current_thread();
}

// Hands a closed scope's totals and sites (toolkit memory, released here) to the API.
void publish_scope(const ScopeTotals& t, ScopeSite* copied, std::uint32_t count, measure_scope_totals_t* totals,
                   measure_rt_site** sites, std::uint32_t* site_count) {
  if (totals != nullptr) {
    *totals = measure_scope_totals_t{t.alloc_count, t.alloc_bytes, t.free_count, t.freed_bytes,
                                     t.net_bytes,   t.net_count,   t.peak_bytes};
  }
  if (copied != nullptr) {
    auto* out = static_cast<measure_rt_site*>(internal_alloc(sizeof(measure_rt_site) * count));
    for (std::uint32_t i = 0; out != nullptr && i < count; ++i) {
      const ScopeSite& s = copied[i];
      out[i] = measure_rt_site{s.stack,       0,           s.alloc_count, s.alloc_bytes, s.free_count,
                               s.freed_bytes, s.net_bytes, s.net_count,   s.peak_bytes,  s.peak_count};
    }
    internal_free(copied, sizeof(ScopeSite) * count);
    *sites = out;
    *site_count = out != nullptr ? count : 0;
  }
}

int rt_scope_end(measure_scope_totals_t* totals, measure_rt_site** sites, std::uint32_t* site_count) {
  BusyScope busy;
  ThreadState* thread = scope_thread(totals, sites, site_count);
  if (thread == nullptr) {
    return 0;
  }
  ScopeTotals t{};
  ScopeSite* copied = nullptr;
  std::uint32_t count = 0;
  if (!thread->scopes.end(&t, sites != nullptr ? &copied : nullptr, &count)) {
    return 0;
  }
  publish_scope(t, copied, count, totals, sites, site_count);
  return 1;
}

// The calling thread's state while recording, else nullptr. pre: inside BusyScope.
ThreadState* recording_thread() {
  return runtime().current() == RuntimeState::recording ? current_thread() : nullptr;
}

int rt_scope_open(const char* name, std::size_t name_size, measure_rt_scope* out) {
  *out = measure_rt_scope{nullptr, 0, 0};
  BusyScope busy;
  ThreadState* thread = recording_thread();
  if (thread == nullptr) {
    return measure_rt_scope_untraced;
  }
  std::uint64_t serial = thread->scopes.open(scope_name_id(*thread, name, name_size));
  if (serial == 0) {
    runtime().diagnostics.scopes_too_deep.fetch_add(1, std::memory_order_relaxed);
    return measure_rt_scope_too_deep;
  }
  *out = measure_rt_scope{thread, serial, 0};
  return measure_rt_scope_ok;
}

int rt_scope_open_threads(const char* name, std::size_t name_size, measure_rt_scope* out) {
  *out = measure_rt_scope{nullptr, 0, 1};
  BusyScope busy;
  ThreadState* thread = recording_thread();
  if (thread == nullptr) {
    return measure_rt_scope_untraced;
  }
  if (thread->in_open_group()) {
    runtime().diagnostics.scopes_too_deep.fetch_add(1, std::memory_order_relaxed);
    return measure_rt_scope_too_deep;  // one such scope at a time per thread
  }
  std::uint64_t serial = 0;
  ScopeGroup* group = runtime().scope_groups.open(scope_name_id(*thread, name, name_size), &serial);
  if (group == nullptr) {
    runtime().diagnostics.scopes_too_deep.fetch_add(1, std::memory_order_relaxed);
    return measure_rt_scope_too_deep;
  }
  thread->group = group;
  thread->group_serial = serial;
  *out = measure_rt_scope{group, serial, 1};
  return measure_rt_scope_ok;
}

int rt_scope_close(const measure_rt_scope* scope, measure_scope_totals_t* totals, measure_rt_site** sites,
                   std::uint32_t* site_count) {
  BusyScope busy;
  ThreadState* thread = scope_thread(totals, sites, site_count);
  if (scope->owner == nullptr || scope->serial == 0) {
    return measure_rt_scope_not_open;
  }
  ScopeTotals t{};
  ScopeSite* copied = nullptr;
  std::uint32_t count = 0;
  if (scope->group != 0) {
    auto* group = static_cast<ScopeGroup*>(scope->owner);
    if (!runtime().scope_groups.close(group, scope->serial, &t, sites != nullptr ? &copied : nullptr, &count)) {
      return measure_rt_scope_not_open;
    }
    if (thread != nullptr && thread->group == group) {
      thread->group = nullptr;
    }
    publish_scope(t, copied, count, totals, sites, site_count);
    return measure_rt_scope_ok;
  }
  if (thread == nullptr) {
    return measure_rt_scope_untraced;  // not recording, or no state for this thread
  }
  auto* owner = static_cast<ThreadState*>(scope->owner);
  if (thread != owner) {
    // Thread states are never freed, so the owner's may be written to; a stale serial
    // (the owner thread exited and its state was reset) matches no scope there.
    owner->scopes.request_close(scope->serial);
    return measure_rt_scope_other_thread;
  }
  if (!thread->scopes.close(scope->serial, &t, sites != nullptr ? &copied : nullptr, &count)) {
    return measure_rt_scope_not_open;
  }
  publish_scope(t, copied, count, totals, sites, site_count);
  return measure_rt_scope_ok;
}

void rt_release_sites(measure_rt_site* sites, std::uint32_t count) {
  internal_free(sites, sizeof(measure_rt_site) * count);
}

int rt_snapshot(void** handle, const unsigned char** data, std::size_t* size) {
  if (!tracing_now()) {
    return 0;
  }
  BusyScope busy;
  void* mem = internal_alloc(sizeof(format::ByteBuffer));
  if (mem == nullptr) {
    return 0;
  }
  auto* buffer = new (mem) format::ByteBuffer();
  runtime().modules.scan();
  // Stack records never change or go away: the snapshot refers to them by id and fetches
  // frames only when statistics are asked for (the larger part of an encoding's cost).
  encode_capture_state(runtime(), *buffer, false, false);

  if (buffer->failed()) {
    buffer->~ByteBuffer();
    internal_free(mem, sizeof(format::ByteBuffer));
    return 0;
  }
  *handle = buffer;
  *data = buffer->data();
  *size = buffer->size();
  return 1;
}

void rt_release_snapshot(void* handle) {
  if (handle != nullptr) {
    auto* buffer = static_cast<format::ByteBuffer*>(handle);
    buffer->~ByteBuffer();
    internal_free(handle, sizeof(format::ByteBuffer));
  }
}

int rt_stack(std::uint32_t id, measure_rt_stack* out) {
  const StackRecord* r = runtime().stacks.get(id);
  if (r == nullptr) {
    return 0;
  }
  *out = measure_rt_stack{0, r->generation, r->flags, nullptr};
  return 1;
}

int rt_stack_frames(std::uint32_t id, std::uintptr_t* frames, std::uint32_t capacity, measure_rt_stack* out) {
  const StackRecord* r = runtime().stacks.get(id);
  if (r == nullptr) {
    return 0;
  }
  std::uintptr_t decoded[StackTable::max_frames];
  std::uint32_t depth = std::min<std::uint32_t>(StackTable::frames(*r, decoded), capacity);
  std::memcpy(frames, decoded, sizeof(std::uintptr_t) * depth);
  *out = measure_rt_stack{depth, r->generation, r->flags, frames};
  return 1;
}

int rt_allocation_site(const void* block, std::uint32_t* stack, std::uint64_t* size) {
  if (!tracing_now() || block == nullptr) {
    return 0;
  }
  BlockInfo info;
  if (!find_live_block(runtime(), reinterpret_cast<std::uintptr_t>(block), &info, false)) {
    return 0;
  }
  *stack = info.stack;
  *size = info.size;
  return 1;
}

int rt_write_capture(const char* path) {
  if (!tracing_now()) {
    return -1;
  }
  BusyScope busy;
  runtime().modules.scan();
  return write_capture_file(runtime(), false, path);
}

int rt_report_alloc(const void* block, std::size_t size) {
  if (block == nullptr || thread_busy() || !ensure_started_and_recording()) {
    return 0;
  }
  BusyScope busy;
  BlockInfo live;
  if (find_live_block(runtime(), block_key(block, AllocFamily::reported), &live, false)) {
    return -1;  // reported before and not freed since: counting it again would count it twice
  }
  record_allocation(const_cast<void*>(block), size, AllocFamily::reported);
  return 1;
}

int rt_report_free(const void* block) {
  if (block == nullptr || thread_busy() || !ensure_started_and_recording()) {
    return 0;
  }
  BusyScope busy;
  return record_free(const_cast<void*>(block), AllocFamily::reported) ? 1 : 0;
}

measure_settings_t rt_settings() {
  if (!tracing_now()) {
    return measure_settings_t{"off", 0, 0};
  }
  const Options& o = runtime().options;
  switch (o.mode) {
    case Mode::exact:
      return measure_settings_t{"exact", o.depth, 0};
    case Mode::sampled:
      return measure_settings_t{"sampled", o.depth, o.sample_interval};
    case Mode::counters:
      return measure_settings_t{"counters", 0, 0};
    case Mode::off:
      break;
  }
  return measure_settings_t{"off", 0, 0};
}

// Adds what `thread`'s call sites counted (every owner's): in exact mode the process's totals
// are their sum, as a capture's are, temporary blocks included.
void add_site_totals(const ThreadState& thread, std::uint32_t stack_count, measure_totals_t* out) noexcept {
  thread.for_each_site(stack_count, [out](std::uint32_t, const SiteCounters& c) {
    out->alloc_count += load_relaxed(c.alloc_count);
    out->alloc_bytes += load_relaxed(c.alloc_bytes);
    out->free_count += load_relaxed(c.free_count);
    out->freed_bytes += load_relaxed(c.freed_bytes);
    out->temporary_count += load_relaxed(c.temporary_count);
  });
}

void add_event_totals(const EventTotals& t, measure_totals_t* out) noexcept {
  out->alloc_count += t.alloc_count;
  out->alloc_bytes += t.alloc_bytes;
  out->free_count += t.free_count;
  out->freed_bytes += t.freed_bytes;
}

int rt_totals(int thread_only, measure_totals_t* out) {
  *out = measure_totals_t{};
  if (!tracing_now()) {
    return 0;
  }
  BusyScope busy;
  Runtime& rt = runtime();
  if (thread_only != 0) {
    ThreadState* thread = current_thread();
    if (thread == nullptr) {
      return 1;  // no state yet: the thread has not allocated
    }
    add_event_totals(thread->own_totals(), out);
    out->peak_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(load_relaxed(thread->peak_net_bytes), 0));
  } else {
    if (rt.options.mode == Mode::exact) {
      std::uint32_t stack_count = rt.stacks.count();
      for (const ThreadState* t = rt.threads.first(); t != nullptr; t = t->next_in_registry) {
        add_site_totals(*t, stack_count, out);
      }
    } else {
      add_event_totals(light_totals(rt), out);
    }
    out->peak_bytes = process_memory(rt).peak;
  }
  out->live_count = static_cast<std::int64_t>(out->alloc_count - out->free_count);
  out->live_bytes = static_cast<std::int64_t>(out->alloc_bytes - out->freed_bytes);
  return 1;
}

constexpr measure_rt_interface g_interface = {
    1,
    sizeof(measure_rt_interface),
    rt_is_tracing,
    rt_busy_enter,
    rt_busy_exit,
    rt_traced_memory,
    rt_reset_peak,
    rt_thread_traced_memory,
    rt_reset_thread_peak,
    rt_scope_begin,
    rt_scope_end,
    rt_release_sites,
    rt_snapshot,
    rt_release_snapshot,
    rt_stack,
    rt_allocation_site,
    rt_write_capture,
    rt_report_alloc,
    rt_report_free,
    rt_stack_frames,
    rt_scope_open,
    rt_scope_close,
    rt_scope_open_threads,
    rt_settings,
    rt_totals,
};

// Zeros from a runtime without totals (an older preload owning the hooks).
measure_totals_t runtime_totals(int thread_only) {
  const measure_rt_interface* rt = measure_rt_get();
  measure_totals_t out{};
  if (rt->size >= offsetof(measure_rt_interface, totals) + sizeof(rt->totals)) {
    rt->totals(thread_only, &out);
  }
  return out;
}

}  // namespace
}  // namespace measure::detail

extern "C" {

MEASURE_API const measure_rt_interface* measure_rt_get(void) {
  return &measure::detail::g_interface;
}

// The public C API calls through measure_rt_get() (through the PLT), so the runtime that owns
// the hooks answers even when this copy of the library is the dormant one.
MEASURE_API measure_settings_t measure_get_settings(void) {
  const measure_rt_interface* rt = measure_rt_get();
  if (rt->size < offsetof(measure_rt_interface, settings) + sizeof(rt->settings)) {
    return measure_settings_t{rt->is_tracing() != 0 ? "exact" : "off", 0, 0};  // a runtime that cannot say more
  }
  return rt->settings();
}
MEASURE_API measure_totals_t measure_get_totals(void) {
  return measure::detail::runtime_totals(0);
}
MEASURE_API measure_totals_t measure_get_thread_totals(void) {
  return measure::detail::runtime_totals(1);
}
MEASURE_API int measure_is_tracing(void) {
  return measure_rt_get()->is_tracing();
}
MEASURE_API measure_traced_memory_t measure_get_traced_memory(void) {
  return measure_rt_get()->traced_memory();
}
MEASURE_API void measure_reset_peak(void) {
  measure_rt_get()->reset_peak();
}
MEASURE_API measure_thread_memory_t measure_get_thread_traced_memory(void) {
  return measure_rt_get()->thread_traced_memory();
}
MEASURE_API void measure_reset_thread_peak(void) {
  measure_rt_get()->reset_thread_peak();
}
MEASURE_API int measure_scope_begin(const char* name) {
  return measure_rt_get()->scope_begin(name != nullptr ? name : "", name != nullptr ? std::strlen(name) : 0);
}
MEASURE_API int measure_scope_end(measure_scope_totals_t* totals) {
  return measure_rt_get()->scope_end(totals, nullptr, nullptr);
}
MEASURE_API int measure_write_capture(const char* path) {
  return measure_rt_get()->write_capture(path);
}
MEASURE_API int measure_report_alloc(const void* block, size_t size) {
  return measure_rt_get()->report_alloc(block, size);
}
MEASURE_API int measure_report_free(const void* block) {
  return measure_rt_get()->report_free(block);
}

}  // extern "C"
