#include "capture/thread_state.h"

#include <cstring>
#include <new>

#include "platform/platform.h"
#include "stacks/stack_table.h"
#include "support/internal_alloc.h"

namespace measure::detail {
namespace {
constexpr std::size_t directory_entries = (StackTable::max_id >> ThreadState::site_chunk_bits) + 1;
constexpr std::size_t directory_bytes = sizeof(std::atomic<SiteCounters*>) * directory_entries;
}  // namespace

SiteCounters* ThreadState::add_chunk(std::uint32_t chunk_index) noexcept {
  if (chunk_index >= directory_entries) {
    return nullptr;
  }
  std::size_t bytes = sizeof(SiteCounters) << site_chunk_bits;
  auto* chunk = static_cast<SiteCounters*>(internal_alloc(bytes));
  if (chunk == nullptr) {
    return nullptr;
  }
  m_memory += bytes;
  m_sites[chunk_index].store(chunk, std::memory_order_release);
  std::uint32_t limit = m_chunk_limit.load(std::memory_order_relaxed);
  if (chunk_index + 1 > limit) {
    m_chunk_limit.store(chunk_index + 1, std::memory_order_release);
  }
  return chunk;
}

void ThreadState::adopt() noexcept {
  last_allocation = 0;
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
    if (SiteCounters* chunk = m_sites[c].load(std::memory_order_relaxed)) {
      std::memset(static_cast<void*>(chunk), 0, sizeof(SiteCounters) << site_chunk_bits);
    }
  }
  net_bytes = 0;
  peak_net_bytes = 0;
  totals = EventTotals{};
  last_allocation = 0;
  scopes.reset_aggregates();
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
  // 2 MiB of address space per state, committed only where touched.
  state->m_sites = static_cast<std::atomic<SiteCounters*>*>(platform::map_pages(directory_bytes));
  if (state->m_sites == nullptr) {
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
    state->last_allocation = 0;
    state->in_use.store(false, std::memory_order_release);
  }
}

void ThreadRegistry::release_all_but(ThreadState* survivor) noexcept {
  for (ThreadState* s = first(); s != nullptr; s = s->next_in_registry) {
    if (s != survivor) {
      s->in_use.store(false, std::memory_order_relaxed);
    }
  }
}

}  // namespace measure::detail
