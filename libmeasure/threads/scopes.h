// Snapshot scopes on the runtime side: each thread keeps a stack of open scopes, and every
// event of the thread updates each of them (a handful at most). A scope counts the thread's
// allocations and frees while it is open, its net change, its own peak (high-water mark of
// the net change) and, per call site, what the site held at that peak, with the same lazy
// "mark" technique as the global peak (record/peak.h): O(1) per event and scope.
// Named scopes are also summed per name (entries, totals, per-site deltas) for the capture.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "support/spinlock.h"

namespace measure::detail {

/// One call site inside one scope.
struct ScopeSite {
  std::uint32_t stack;
  std::uint32_t generation;  // the table generation the entry belongs to (O(1) clearing)
  std::uint64_t alloc_count;
  std::uint64_t alloc_bytes;
  std::uint64_t free_count;
  std::uint64_t freed_bytes;
  std::int64_t net_bytes;
  std::int64_t net_count;
  std::int64_t peak_bytes;  // at the scope peak of `mark`
  std::int64_t peak_count;
  std::uint64_t mark;
};

/// Open-addressing table of ScopeSite keyed by stack id. Owner thread only.
class ScopeSiteTable {
 public:
  /// The entry of `stack`, created zeroed with `mark` on first use; nullptr when out of memory.
  ScopeSite* find_or_insert(std::uint32_t stack, std::uint64_t mark) noexcept;
  /// Forgets every entry in O(1).
  void clear() noexcept;
  std::uint32_t size() const noexcept { return m_count; }
  /// Calls visit(entry, context) for each entry.
  void for_each(void (*visit)(const ScopeSite&, void*), void* context) const noexcept;

 private:
  bool grow() noexcept;
  ScopeSite* m_slots = nullptr;
  std::uint32_t m_capacity = 0;
  std::uint32_t m_count = 0;
  std::uint32_t m_generation = 1;  // never 0 in use: zeroed slots must read as empty
};

struct ScopeTotals {
  std::uint64_t alloc_count;
  std::uint64_t alloc_bytes;
  std::uint64_t free_count;
  std::uint64_t freed_bytes;
  std::int64_t net_bytes;
  std::int64_t net_count;
  std::uint64_t peak_bytes;  // high-water mark of net_bytes while open (>= 0)
};

struct OpenScope {
  std::uint32_t name;    // ScopeNames id; 0 for an unnamed scope
  bool innermost_ended;  // opened by begin() (the C API): end() closes it, not close()
  std::uint64_t serial;  // the thread's number for it, never reused by that thread state
  ScopeTotals totals;
  std::uint64_t mark;        // advances at each new scope peak
  std::uint64_t lost_sites;  // events whose site could not be tracked (out of memory)
  ScopeSiteTable sites;

  void start(std::uint32_t name_id, std::uint64_t serial_number, bool by_end) noexcept;
  void on_event(std::uint32_t stack, bool allocation, std::uint64_t bytes) noexcept;
  /// The scope's results: `out` its totals, `sites`/`site_count` (when not null) a copy of its
  /// sites in toolkit memory (release with internal_free(sites, site_count * sizeof(ScopeSite))),
  /// and its costs added to `aggregate` (when not null).
  void finish(struct ScopeAggregate* aggregate, ScopeTotals* out, ScopeSite** sites,
              std::uint32_t* site_count) noexcept;
};

/// The per-name sums of the capture's scopes section.
struct ScopeAggregate {
  std::uint64_t entries;
  std::uint64_t alloc_count;
  std::uint64_t alloc_bytes;
  std::uint64_t free_count;
  std::uint64_t freed_bytes;
  std::int64_t net_bytes;
  std::uint64_t peak_max;
  std::uint64_t peak_sum;
  ScopeSiteTable sites;  // per-site allocation and free counters, summed over entries
};

/// Process-wide registry of scope names. Id 0 is the unnamed scope.
class ScopeNames {
 public:
  static constexpr std::uint32_t max_names = 1U << 16;
  /// The id of `name` (interning a copy). Returns 0 when the registry is full or out of memory.
  std::uint32_t intern(const char* name, std::size_t size) noexcept;
  /// The name of `id` and its size; nullptr for unknown ids.
  const char* name(std::uint32_t id, std::size_t* size) const noexcept;
  std::uint32_t count() const noexcept { return __atomic_load_n(&m_count, __ATOMIC_ACQUIRE); }

 private:
  struct Entry {
    const char* text;
    std::size_t size;
    std::uint64_t hash;
  };
  SpinLock m_lock;
  Entry* m_entries = nullptr;  // mapped, max_names entries
  std::uint32_t m_count = 1;
};

/// One thread's open scopes and per-name aggregates. Owner thread only, except that the
/// capture writer reads the aggregates at exit and request_close() may be called anywhere.
///
/// Scopes are opened and closed two ways. The C API's begin()/end() pair by nesting: end()
/// closes the innermost scope that begin() opened, and a begin() beyond the depth limit
/// pushes a placeholder so that its end() still pairs up. open()/close() name the scope by
/// the serial open() returned, so a scope closes itself whatever else is open, even out of
/// order; a scope closed from another thread is only marked (request_close()) and leaves
/// the owner's list at the owner's next scope call.
class ThreadScopes {
 public:
  static constexpr std::uint32_t max_depth = 32;

  std::uint32_t depth() const noexcept { return m_depth; }
  /// Opens a scope closed by end(); false (and a placeholder pushed, so that the matching
  /// end() still pairs up) when max_depth scopes are already open.
  bool begin(std::uint32_t name_id) noexcept;
  /// Pushes a placeholder: a scope that records nothing (opened when not recording).
  void begin_placeholder() noexcept { ++m_placeholders; }
  /// Opens a scope closed by close(serial); returns its serial, or 0 when max_depth scopes
  /// are already open (nothing is pushed).
  std::uint64_t open(std::uint32_t name_id) noexcept;
  /// The innermost open scope, or nullptr.
  const OpenScope* innermost() const noexcept { return m_depth == 0 ? nullptr : &m_scopes[m_depth - 1]; }
  /// Closes the innermost scope begin() opened: `out` receives its totals, `sites`/`site_count`
  /// (when not null) a copy of its sites in toolkit memory that the caller releases with
  /// internal_free(sites, site_count * sizeof(ScopeSite)); a named scope is added to its
  /// aggregate. A placeholder closes with zero totals. False when no such scope is open.
  bool end(ScopeTotals* out, ScopeSite** sites, std::uint32_t* site_count) noexcept;
  /// Closes the scope open() numbered `serial`, wherever it is in the list, as end() does.
  /// False when it is not open (closed already, or the thread state was reset since).
  bool close(std::uint64_t serial, ScopeTotals* out, ScopeSite** sites, std::uint32_t* site_count) noexcept;
  /// From any thread: asks the owner to close scope `serial` at its next scope call (its
  /// results are dropped; a named scope still adds to its aggregate). False when every
  /// request slot is taken; the scope then stays open until the thread state is reset.
  bool request_close(std::uint64_t serial) noexcept;
  void on_event(std::uint32_t stack, bool allocation, std::uint64_t bytes) noexcept {
    for (std::uint32_t i = 0; i < m_depth; ++i) {
      m_scopes[i].on_event(stack, allocation, bytes);
    }
  }
  /// The aggregate of name `id`, or nullptr if this thread never closed such a scope.
  const ScopeAggregate* aggregate(std::uint32_t id) const noexcept {
    return id < m_aggregate_count ? &m_aggregates[id] : nullptr;
  }
  /// Forked child or a new owner thread: forget open scopes and close requests (aggregates
  /// stay; serials keep counting, so no old serial names a new scope).
  void reset_open() noexcept;
  /// Forked child starting its own capture: forgets the per-name sums (names stay).
  void reset_aggregates() noexcept;

 private:
  ScopeAggregate* aggregate_for(std::uint32_t id) noexcept;
  /// Closes m_scopes[index] (see end()) and removes it from the list.
  void close_at(std::uint32_t index, ScopeTotals* out, ScopeSite** sites, std::uint32_t* site_count) noexcept;
  /// Closes the scopes other threads asked to close.
  void serve_requests() noexcept {
    if (__builtin_expect(m_request_count.load(std::memory_order_acquire) != 0, 0)) {
      serve_requests_slow();
    }
  }
  void serve_requests_slow() noexcept;

  OpenScope m_scopes[max_depth] = {};
  std::uint32_t m_depth = 0;
  std::uint32_t m_placeholders = 0;        // always the innermost of begin()'s scopes
  std::uint64_t m_next_serial = 1;         // 0 means "not opened"
  ScopeAggregate* m_aggregates = nullptr;  // indexed by name id
  std::uint32_t m_aggregate_count = 0;
  std::atomic<std::uint32_t> m_request_count{0};
  std::atomic<std::uint64_t> m_requests[max_depth] = {};  // serials to close; 0: free slot
};

}  // namespace measure::detail
