#include "threads/thread_state.h"

#include <cstring>
#include <new>

#include "platform/platform.h"
#include "stacks/stack_table.h"
#include "support/internal_alloc.h"

namespace measure::detail {
namespace {
constexpr std::uint32_t max_directory_entries = (StackTable::max_id >> ThreadState::site_chunk_bits) + 1;
constexpr std::uint32_t first_directory_entries = 512;
}  // namespace

bool ThreadState::grow_directory(std::uint32_t chunk_index) noexcept {
  std::uint32_t capacity = m_site_capacity.load(std::memory_order_relaxed);
  std::uint32_t grown = capacity == 0 ? first_directory_entries : capacity;
  while (grown <= chunk_index) {
    grown *= 2;
  }
  grown = grown < max_directory_entries ? grown : max_directory_entries;
  // NOLINTNEXTLINE(bugprone-sizeof-expression): a directory of pointers
  auto* directory = static_cast<std::atomic<SiteCounters*>*>(internal_alloc(sizeof(SiteCounters*) * grown));
  if (directory == nullptr) {
    return false;
  }
  std::atomic<SiteCounters*>* old = m_sites.load(std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < capacity; ++i) {
    directory[i].store(old[i].load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  m_memory += sizeof(SiteCounters*) * grown;  // NOLINT(bugprone-sizeof-expression)
  // The directory before its size: an owner that sees the size sees the directory; readers
  // bound their index by the chunk limit, published after both.
  m_sites.store(directory, std::memory_order_release);
  m_site_capacity.store(grown, std::memory_order_release);
  return true;
}

SiteCounters* ThreadState::add_chunk(std::uint32_t chunk_index) noexcept {
  if (chunk_index >= max_directory_entries ||
      (chunk_index >= m_site_capacity.load(std::memory_order_relaxed) && !grow_directory(chunk_index))) {
    return nullptr;
  }
  std::size_t bytes = sizeof(SiteCounters) << site_chunk_bits;
  auto* chunk = static_cast<SiteCounters*>(internal_alloc(bytes));
  if (chunk == nullptr) {
    return nullptr;
  }
  // A site's first access reads it: one fault for the zero page, another to write.
  platform::populate_pages(chunk, bytes);
  m_memory += bytes;
  m_sites.load(std::memory_order_relaxed)[chunk_index].store(chunk, std::memory_order_release);
  std::uint32_t limit = m_chunk_limit.load(std::memory_order_relaxed);
  if (chunk_index + 1 > limit) {
    m_chunk_limit.store(chunk_index + 1, std::memory_order_release);
  }
  return chunk;
}

void ThreadState::on_group_event(std::uint32_t stack, bool allocation, std::uint64_t bytes) noexcept {
  if (!ScopeGroups::on_event(*group, group_serial, stack, allocation, bytes)) {
    group = nullptr;  // closed since this thread joined
  }
}

void ThreadState::adopt() noexcept {
  totals_at_adopt = totals;
  last_allocation = 0;
  group = nullptr;
  store_relaxed(net_bytes, 0);
  store_relaxed(peak_net_bytes, 0);
  scopes.reset_open();
  stacks.clear();
  stack_low = 0;
  stack_high = 0;
  os_thread_id = platform::thread_id();
}

void ThreadState::reset_counters() noexcept {
  std::uint32_t limit = chunk_limit();
  for (std::uint32_t c = 0; c < limit; ++c) {
    if (SiteCounters* chunk = m_sites.load(std::memory_order_relaxed)[c].load(std::memory_order_relaxed)) {
      std::memset(static_cast<void*>(chunk), 0, sizeof(SiteCounters) << site_chunk_bits);
    }
  }
  net_bytes = 0;
  peak_net_bytes = 0;
  totals = EventTotals{};
  totals_at_adopt = EventTotals{};
  last_allocation = 0;
  scopes.reset_aggregates();
  summary.reset();
}

ThreadState* ThreadRegistry::acquire() noexcept {
  for (ThreadState* s = first(); s != nullptr; s = s->next_in_registry) {
    bool expected = false;
    if (!s->in_use.load(std::memory_order_relaxed) &&
        s->in_use.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      s->adopt();
      return s;
    }
  }
  void* mem = internal_alloc(sizeof(ThreadState));
  if (mem == nullptr) {
    return nullptr;
  }
  auto* state = new (mem) ThreadState();
  if (!state->grow_directory(0)) {
    internal_free(mem, sizeof(ThreadState));
    return nullptr;
  }
  // Address space only until a slow path touches it; without it those run on the program's stack.
  state->side_stack = platform::map_stack(ThreadState::side_stack_bytes);
  state->in_use.store(true, std::memory_order_relaxed);
  state->adopt();
  ThreadState* head = m_head.load(std::memory_order_relaxed);
  do {
    state->next_in_registry = head;
  } while (!m_head.compare_exchange_weak(head, state, std::memory_order_release, std::memory_order_relaxed));
  m_count.fetch_add(1, std::memory_order_relaxed);
  return state;
}

void ThreadRegistry::release(ThreadState* state) noexcept {
  if (state != nullptr) {
    EventTotals own = state->own_totals();
    if (own.alloc_count != 0 || own.free_count != 0) {
      std::uint32_t slot = m_exited_count.fetch_add(1, std::memory_order_relaxed);
      if (slot < exited_kept) {
        ExitedThread& e = m_exited[slot];
        e.os_thread_id = state->os_thread_id;
        platform::thread_name(state->os_thread_id, e.name);
        e.totals = own;
        e.ready.store(true, std::memory_order_release);
      } else {
        m_exited_count.fetch_sub(1, std::memory_order_relaxed);
        m_other_exited.threads.fetch_add(1, std::memory_order_relaxed);
        m_other_exited.alloc_count.fetch_add(own.alloc_count, std::memory_order_relaxed);
        m_other_exited.alloc_bytes.fetch_add(own.alloc_bytes, std::memory_order_relaxed);
        m_other_exited.free_count.fetch_add(own.free_count, std::memory_order_relaxed);
        m_other_exited.freed_bytes.fetch_add(own.freed_bytes, std::memory_order_relaxed);
      }
    }
    state->last_allocation = 0;
    state->in_use.store(false, std::memory_order_release);
  }
}

EventTotals ThreadState::own_totals() const noexcept {
  return EventTotals{load_relaxed(totals.alloc_count) - totals_at_adopt.alloc_count,
                     load_relaxed(totals.alloc_bytes) - totals_at_adopt.alloc_bytes,
                     load_relaxed(totals.free_count) - totals_at_adopt.free_count,
                     load_relaxed(totals.freed_bytes) - totals_at_adopt.freed_bytes};
}

EventTotals ThreadRegistry::totals() const noexcept {
  EventTotals sum{};
  for (const ThreadState* s = first(); s != nullptr; s = s->next_in_registry) {
    sum.alloc_count += load_relaxed(s->totals.alloc_count);
    sum.alloc_bytes += load_relaxed(s->totals.alloc_bytes);
    sum.free_count += load_relaxed(s->totals.free_count);
    sum.freed_bytes += load_relaxed(s->totals.freed_bytes);
  }
  return sum;
}

std::uint64_t ThreadRegistry::other_exited(EventTotals* totals) const noexcept {
  const OtherExited& o = m_other_exited;
  *totals = EventTotals{o.alloc_count.load(std::memory_order_relaxed), o.alloc_bytes.load(std::memory_order_relaxed),
                        o.free_count.load(std::memory_order_relaxed), o.freed_bytes.load(std::memory_order_relaxed)};
  return o.threads.load(std::memory_order_relaxed);
}

void ThreadRegistry::forget_exited() noexcept {
  for (ExitedThread& e : m_exited) {
    e.ready.store(false, std::memory_order_relaxed);
  }
  m_exited_count.store(0, std::memory_order_relaxed);
  OtherExited& o = m_other_exited;
  for (std::atomic<std::uint64_t>* value :
       {&o.threads, &o.alloc_count, &o.alloc_bytes, &o.free_count, &o.freed_bytes}) {
    value->store(0, std::memory_order_relaxed);
  }
}

void ThreadRegistry::release_all_but(ThreadState* survivor) noexcept {
  for (ThreadState* s = first(); s != nullptr; s = s->next_in_registry) {
    if (s != survivor) {
      s->in_use.store(false, std::memory_order_relaxed);
    }
  }
  if (survivor != nullptr) {
    survivor->os_thread_id = platform::thread_id();  // the child's thread has an id of its own
  }
}

}  // namespace measure::detail
