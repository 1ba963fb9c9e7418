// Per-thread recording state. A thread gets a state on its first recorded event and returns
// it to a pool when it exits; the next new thread reuses it. States are never freed, so a
// report can walk all of them at any time, and counters simply keep accumulating across
// owners (every metric is a sum over threads).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "platform/platform.h"
#include "record/peak.h"
#include "record/sampler.h"
#include "runtime/config.h"
#include "stacks/stack_cache.h"
#include "threads/scope_groups.h"
#include "threads/scopes.h"
#include "threads/thread_summary.h"

namespace measure::detail {

/// Exact counts of one thread's events, kept in sampled and counters modes, where the
/// per-site counters hold estimates or nothing. Owner writes, relaxed readers.
struct EventTotals {
  std::uint64_t alloc_count;
  std::uint64_t alloc_bytes;
  std::uint64_t free_count;
  std::uint64_t freed_bytes;

  void on_event(bool allocation, std::uint64_t bytes) noexcept {
    bump(allocation ? alloc_count : free_count, 1);
    bump(allocation ? alloc_bytes : freed_bytes, bytes);
  }
};

class ThreadState {
 public:
  // 64 sites, one page, per chunk: a thread commits what it touches.
  static constexpr std::uint32_t site_chunk_bits = 6;
  static constexpr std::uint32_t name_slots = 16;
  /// Two words per frame (return address and saved frame pointer) and the truncation probe.
  static constexpr std::uint32_t max_checks = 2 * (max_depth + 1);

  /// The counters of `stack` for this thread, creating them on first use. Returns nullptr
  /// when the toolkit is out of memory. Owner thread only.
  SiteCounters* site(std::uint32_t stack) noexcept {
    std::uint32_t index = stack >> site_chunk_bits;
    SiteCounters* chunk = __builtin_expect(index < m_site_capacity.load(std::memory_order_relaxed), 1)
                              ? m_sites.load(std::memory_order_relaxed)[index].load(std::memory_order_relaxed)
                              : nullptr;
    if (__builtin_expect(chunk == nullptr, 0)) {
      chunk = add_chunk(stack >> site_chunk_bits);
      if (chunk == nullptr) {
        return nullptr;
      }
    }
    return &chunk[stack & ((1U << site_chunk_bits) - 1)];
  }
  /// Reader side (any thread): the counters of `stack`, or nullptr if this thread never
  /// touched that chunk.
  const SiteCounters* find_site(std::uint32_t stack) const noexcept {
    if ((stack >> site_chunk_bits) >= chunk_limit()) {
      return nullptr;
    }
    // The directory published with the chunk limit read above, or a later, larger one.
    const SiteCounters* chunk =
        m_sites.load(std::memory_order_acquire)[stack >> site_chunk_bits].load(std::memory_order_acquire);
    return chunk == nullptr ? nullptr : &chunk[stack & ((1U << site_chunk_bits) - 1)];
  }
  /// One past the highest chunk index in use (for readers that walk every site).
  std::uint32_t chunk_limit() const noexcept { return m_chunk_limit.load(std::memory_order_acquire); }
  /// Reader side (any thread): calls `f(stack, counters)` for every stack id in [begin, end)
  /// in a chunk this thread has touched, in id order; chunks it never touched are skipped whole.
  template <class F>
  void for_each_site(std::uint32_t begin, std::uint32_t end, F&& f) const {
    std::uint32_t chunks = chunk_limit();
    // The directory published with the chunk limit read above, or a later, larger one.
    const std::atomic<SiteCounters*>* directory = m_sites.load(std::memory_order_acquire);
    constexpr std::uint32_t per_chunk = 1U << site_chunk_bits;
    for (std::uint32_t c = begin >> site_chunk_bits; c < chunks && (c << site_chunk_bits) < end; ++c) {
      const SiteCounters* chunk = directory[c].load(std::memory_order_acquire);
      if (chunk == nullptr) {
        continue;
      }
      std::uint32_t first = c << site_chunk_bits;
      std::uint32_t from = begin > first ? begin - first : 0;
      std::uint32_t to = end - first < per_chunk ? end - first : per_chunk;
      for (std::uint32_t i = from; i < to; ++i) {
        f(first + i, chunk[i]);
      }
    }
  }
  /// Every stack id below `limit` (see above).
  template <class F>
  void for_each_site(std::uint32_t limit, F&& f) const {
    for_each_site(0, limit, std::forward<F>(f));
  }

  /// Scratch space for one stack walk (stacks/unwind.h) on this thread's stack bounds.
  WalkBuffers walk_buffers() noexcept {
    return WalkBuffers{stack_low, stack_high, m_frames, m_checks, max_checks, &m_rules};
  }

  /// The size of a thread's side stack (see run_with_room).
  static constexpr std::size_t side_stack_bytes = 256 * 1024;
  /// What a slow path needs left on the thread's own stack to run there.
  static constexpr std::size_t in_place_room = 64 * 1024;
  /// Runs a slow path, `work()`, where it has room. A stack walk needs kilobytes and the
  /// thread's set-up more; the program's stack may be a coroutine's or a sigaltstack's with a
  /// few hundred bytes to spare. On the thread's own stack, with in_place_room left below the
  /// caller, it runs in place: a signal that arrives meanwhile then finds the thread's stack
  /// pointer on the thread's stack, as natively (a conservative collector scans the thread's
  /// stack from it). Anywhere else it runs on the thread's side stack, a stack of the toolkit's
  /// own, so that the program's stack only holds the hot path's frames; and in place when there
  /// is no side stack (it could not be mapped) or the caller is on it already.
  template <class Work>
  void run_with_room(Work& work) noexcept {
    auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    auto top = reinterpret_cast<std::uintptr_t>(side_stack);
    bool roomy = here < stack_high && here >= stack_low + in_place_room;
    if (roomy || side_stack == nullptr || (here < top && here >= top - side_stack_bytes)) {
      work();
      return;
    }
    platform::run_on_stack(
        side_stack, [](void* w) { (*static_cast<Work*>(w))(); }, &work);
  }

  /// Resets what belongs to the owning thread (not the counters) for a new owner.
  void adopt() noexcept;
  /// Forked child starting its own capture: every counter back to zero.
  void reset_counters() noexcept;

  /// The owner's own event on `stack`: its counts, its traced memory and its open scopes.
  /// Always inlined: the hooks' fast paths call it on every event.
  __attribute__((always_inline)) void on_own_event(std::uint32_t stack, bool allocation, std::uint64_t bytes) noexcept {
    totals.on_event(allocation, bytes);
    if (allocation) {
      summary.on_allocation(stack, bytes);
    }
    std::int64_t net = net_bytes + (allocation ? static_cast<std::int64_t>(bytes) : -static_cast<std::int64_t>(bytes));
    store_relaxed(net_bytes, net);
    if (net > peak_net_bytes) {
      store_relaxed(peak_net_bytes, net);
    }
    if (scopes.depth() != 0) {
      scopes.on_event(stack, allocation, bytes);
    }
    if (__builtin_expect(group != nullptr, 0)) {
      on_group_event(stack, allocation, bytes);
    }
  }
  /// Whether the thread belongs to a group that is still open (not closed since it joined).
  bool in_open_group() const noexcept {
    return group != nullptr && group->serial.load(std::memory_order_acquire) == group_serial;
  }
  /// The owner's event counted in its group: out of line, rare.
  void on_group_event(std::uint32_t stack, bool allocation, std::uint64_t bytes) noexcept;
  /// The owner's counts since it started (or adopted this state): `totals` less what earlier
  /// owners counted.
  EventTotals own_totals() const noexcept;

  /// A scope-name cache in front of the process-wide registry (names are usually literals).
  struct NameSlot {
    const char* text;
    std::size_t size;
    std::uint32_t id;
  };
  NameSlot& name_slot(const char* text) noexcept {
    return m_names[(reinterpret_cast<std::uintptr_t>(text) >> 3) & (name_slots - 1)];
  }

  AccountHint account_hint;            // the account word as this thread's last event left it
  AccountLease account_lease;          // headroom under the peak lent by the account
  std::uintptr_t last_allocation = 0;  // for temporaries: freed before this thread's next allocation
  std::uintptr_t stack_low = 0;        // the owner's stack, for validating frame pointers
  std::uintptr_t stack_high = 0;
  std::uint64_t os_thread_id = 0;
  std::int64_t net_bytes = 0;       // this thread's allocations minus its frees, in bytes
  std::int64_t peak_net_bytes = 0;  // the highest net_bytes since the owner started or reset
  ThreadScopes scopes;
  // The group of scopes counting threads started (threads/scope_groups.h) this thread
  // belongs to, and the serial it joined with; nullptr when none. Owner thread only.
  ScopeGroup* group = nullptr;
  std::uint64_t group_serial = 0;
  void* side_stack = nullptr;  // the top of the side stack (platform::map_stack), or nullptr
  StackCache stacks;           // recent walks of this thread, validated on use
  Sampler sampler;             // sampled mode: which of this thread's allocations get a stack
  ThreadSummary summary;       // sizes, temporaries' bytes and largest blocks (every owner's)
  // Every owner's exact counts, kept when a new owner adopts the state (a process's totals
  // include exited threads'); `totals_at_adopt` is where the current owner's began.
  EventTotals totals = {};
  EventTotals totals_at_adopt = {};

  ThreadState* next_in_registry = nullptr;
  std::atomic<bool> in_use{false};

  std::uint64_t memory_bytes() const noexcept { return m_memory + stacks.memory_bytes(); }

 private:
  SiteCounters* add_chunk(std::uint32_t chunk_index) noexcept;
  /// Makes room for `chunk_index` in the directory (a larger copy; the old one stays valid for
  /// readers that still hold it). False when out of memory.
  bool grow_directory(std::uint32_t chunk_index) noexcept;

  // The directory of chunk pointers, sized to the highest stack id this thread has used (it
  // starts at 512 entries, 131,072 stack ids): address space follows use.
  std::atomic<std::atomic<SiteCounters*>*> m_sites{nullptr};
  std::atomic<std::uint32_t> m_site_capacity{0};
  std::atomic<std::uint32_t> m_chunk_limit{0};
  std::uint64_t m_memory = 0;
  std::uintptr_t m_frames[max_depth + 1] = {};
  StackCheck m_checks[max_checks] = {};
  ThreadFrameRules m_rules;
  NameSlot m_names[name_slots] = {};

  friend class ThreadRegistry;
};

/// A thread that exited, as the capture's split by thread lists it.
struct ExitedThread {
  std::uint64_t os_thread_id;
  char name[16];
  EventTotals totals;
  std::atomic<bool> ready;  // the fields above are written
};

class ThreadRegistry {
 public:
  /// Exited threads listed one by one; those after them are summed (other_exited).
  static constexpr std::uint32_t exited_kept = 256;

  /// A state for the calling thread: a pooled one if available, else a new one. nullptr
  /// when the toolkit is out of memory.
  ThreadState* acquire() noexcept;
  /// Returns a state to the pool (at thread exit), keeping the owner's counts, id and name
  /// for the split by thread when it counted any event. Called by the exiting thread.
  void release(ThreadState* state) noexcept;
  /// First state of the registry; follow next_in_registry. States are never removed.
  ThreadState* first() const noexcept { return m_head.load(std::memory_order_acquire); }
  std::uint32_t count() const noexcept { return m_count.load(std::memory_order_relaxed); }
  /// Forked child: only the forking thread survives, so every other state becomes free.
  void release_all_but(ThreadState* survivor) noexcept;
  /// The sum of every state's EventTotals (sampled and counters modes): each thread's counts
  /// are exact, read at slightly different moments while threads run. Any thread.
  EventTotals totals() const noexcept;
  /// Calls `f(const ExitedThread&)` for each exited thread kept so far, in exit order.
  template <class F>
  void for_each_exited(F&& f) const {
    std::uint32_t n = m_exited_count.load(std::memory_order_acquire);
    for (std::uint32_t i = 0; i < n && i < exited_kept; ++i) {
      if (m_exited[i].ready.load(std::memory_order_acquire)) {
        f(m_exited[i]);
      }
    }
  }
  /// The exited threads not kept one by one: how many, and their counts summed.
  std::uint64_t other_exited(EventTotals* totals) const noexcept;
  /// Forked child starting its own capture: no thread has exited yet. No other thread runs.
  void forget_exited() noexcept;

 private:
  std::atomic<ThreadState*> m_head{nullptr};
  std::atomic<std::uint32_t> m_count{0};
  ExitedThread m_exited[exited_kept] = {};
  std::atomic<std::uint32_t> m_exited_count{0};
  // The exited threads past the kept ones: how many, and their counts summed.
  struct OtherExited {
    std::atomic<std::uint64_t> threads{0};
    std::atomic<std::uint64_t> alloc_count{0};
    std::atomic<std::uint64_t> alloc_bytes{0};
    std::atomic<std::uint64_t> free_count{0};
    std::atomic<std::uint64_t> freed_bytes{0};
  } m_other_exited;
};

}  // namespace measure::detail
