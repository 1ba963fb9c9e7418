// measure: Python's tracemalloc for C++, in process.
//
//   #include <measure/measure.hpp>      link measure::measure (CMake) or `pkg-config measure`
//
// Linking the library traces the program from its start (MEASURE_MODE=off turns tracing
// off); under `measure run` the preloaded runtime answers instead, and nothing is counted
// twice. Every function works whether or not allocations are traced: when they are not,
// queries report zeros, snapshots are empty and scopes count nothing (and say so: see
// ScopeStatus). The API's own memory
// is never counted. docs/api.md has an example for each function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <measure/measure.h>

namespace measure {

// ---- state and traced memory ------------------------------------------------------------

/// True when this process's allocations are being traced.
inline bool is_tracing() noexcept {
  return measure_is_tracing() != 0;
}

/// What is recorded in this process: mode "exact", "sampled", "counters" or "off" (not
/// tracing); the most frames per stack (0 in counters mode, which records none); sampled
/// mode's mean bytes between samples (else 0).
struct Settings {
  std::string_view mode;
  std::uint32_t depth;
  std::uint64_t sample_interval;
};
inline Settings settings() noexcept {
  measure_settings_t s = measure_get_settings();
  return {s.mode, s.depth, s.sample_interval};
}

struct TracedMemory {
  std::uint64_t current;  // bytes live now
  std::uint64_t peak;     // most bytes live at once since start or reset_peak()
};
/// Process-wide traced memory (tracemalloc's get_traced_memory). Zeros when not tracing.
inline TracedMemory traced_memory() noexcept {
  measure_traced_memory_t m = measure_get_traced_memory();
  return {m.current, m.peak};
}
/// Sets the process-wide peak to the current live bytes.
inline void reset_peak() noexcept {
  measure_reset_peak();
}

struct ThreadMemory {
  std::int64_t current;  // the calling thread's allocated minus freed bytes
  std::int64_t peak;     // its highest value since the thread started or reset_thread_peak()
};
/// The calling thread's own traced memory.
inline ThreadMemory thread_traced_memory() noexcept {
  measure_thread_memory_t m = measure_get_thread_traced_memory();
  return {m.current, m.peak};
}
inline void reset_thread_peak() noexcept {
  measure_reset_thread_peak();
}

/// Allocation counts in the metric names `measure report` uses, for the process, a thread or a
/// scope (ScopeStats). A field its source does not measure stays 0, as its comment says.
struct Totals {
  std::uint64_t alloc_count = 0;  // allocations
  std::uint64_t alloc_bytes = 0;  // bytes they requested
  std::uint64_t free_count = 0;   // frees of traced blocks
  std::uint64_t freed_bytes = 0;
  std::int64_t live_count = 0;        // alloc_count - free_count (a thread's or a scope's may be negative)
  std::int64_t live_bytes = 0;        // alloc_bytes - freed_bytes (likewise)
  std::uint64_t peak_bytes = 0;       // the highest live_bytes (the process's is sampled outside exact mode)
  std::int64_t peak_count = 0;        // live_count at that peak: scopes only
  std::uint64_t temporary_count = 0;  // freed by their thread before its next allocation: the
                                      // process's, in exact mode only
};
namespace detail {
inline Totals to_totals(const measure_totals_t& t) noexcept {
  Totals out;
  out.alloc_count = t.alloc_count;
  out.alloc_bytes = t.alloc_bytes;
  out.free_count = t.free_count;
  out.freed_bytes = t.freed_bytes;
  out.live_count = t.live_count;
  out.live_bytes = t.live_bytes;
  out.peak_bytes = t.peak_bytes;
  out.temporary_count = t.temporary_count;
  return out;
}
}  // namespace detail
/// The process's totals since tracing started, exited threads included; peak_bytes since start
/// or reset_peak(). Zeros when not tracing. In exact mode this adds up every call site of every
/// thread (about a millisecond per 100,000 sites); the other modes add up a counter set per thread.
inline Totals totals() noexcept {
  return detail::to_totals(measure_get_totals());
}
/// The calling thread's own allocations and frees since it started; peak_bytes since it
/// started or reset_thread_peak(). Zeros when not tracing.
inline Totals thread_totals() noexcept {
  return detail::to_totals(measure_get_thread_totals());
}

// ---- frames, keys and statistics --------------------------------------------------------

/// One symbolized frame. Unknown fields are empty (or 0).
struct MEASURE_API StackFrame {
  std::string function;  // demangled
  std::string file;
  std::uint32_t line = 0;
  std::string module;        // path of the executable or shared library
  std::uint64_t offset = 0;  // address within the module
  bool inlined = false;      // an inlined call inside the next frame
  /// "function  file:line", or "module+0xoffset" when nothing names the code.
  std::string to_string() const;
  friend bool operator==(const StackFrame&, const StackFrame&) = default;
};

enum class By { stack, function, line, file, module };

/// What a statistic is grouped by. A stack is attributed to its innermost frame in the
/// program's own code (frames in system headers and libraries are skipped); fields that do
/// not apply to the grouping are empty. Two keys are equal when they name the same group
/// under the same grouping, whichever snapshot (or process) they come from: so keys from
/// two snapshots can be matched, and used as keys of hashed containers (std::hash<Key>).
class MEASURE_API Key {
 public:
  By by() const noexcept { return m_by; }
  const std::string& function() const noexcept { return m_function; }
  const std::string& file() const noexcept { return m_file; }
  std::uint32_t line() const noexcept { return m_line; }
  const std::string& module() const noexcept { return m_module; }
  /// The address within module() where nothing else names the code (no symbols), else 0.
  std::uint64_t offset() const noexcept { return m_offset; }
  /// By::stack: the whole call stack, innermost first. Other groupings: the stack that
  /// weighs most in the group (not part of the key's identity). Built on each call from
  /// frames the keys of one result share.
  std::vector<StackFrame> stack() const;
  /// The row's name as `measure report` prints it for the same grouping: "file:line
  /// function", "function  (file)", "libfoo.so+0x1a2b" and the like.
  std::string to_string() const;
  std::size_t hash() const noexcept;
  friend MEASURE_API bool operator==(const Key& a, const Key& b) noexcept;

 private:
  friend struct detail_access;
  By m_by = By::line;
  std::string m_function;
  std::string m_file;
  std::uint32_t m_line = 0;
  std::string m_module;
  std::uint64_t m_offset = 0;
  std::shared_ptr<const std::vector<StackFrame>> m_frame_table;  // shared by one result's keys
  std::vector<std::uint32_t> m_frames;                           // the stack: indices into it
  std::string m_identity;  // stable across processes and builds; decides grouping and ties
};

struct Statistic {
  Key key;
  std::uint64_t live_bytes = 0;  // bytes of this group live in the snapshot
  std::uint64_t live_count = 0;
  std::uint64_t alloc_bytes = 0;  // allocated since the process started (frees not deducted)
  std::uint64_t alloc_count = 0;
};

struct StatisticDiff {
  Key key;
  std::uint64_t live_bytes = 0;  // in the newer snapshot (0 when the group is gone)
  std::uint64_t live_count = 0;
  std::uint64_t alloc_bytes = 0;
  std::uint64_t alloc_count = 0;
  std::int64_t live_bytes_diff = 0;  // newer minus older
  std::int64_t live_count_diff = 0;
  std::int64_t alloc_bytes_diff = 0;
  std::int64_t alloc_count_diff = 0;
};

/// Which frames a filter looks at and what it matches there (a shell glob, fnmatch(3)).
enum class FilterField { function, file, module, any };

struct Filter {
  bool inclusive = true;
  std::string pattern;
  FilterField field = FilterField::any;
  bool all_frames = false;  // false: the attributed (innermost own) frame only; true: any frame

  static Filter include(std::string pattern, FilterField field = FilterField::any, bool all_frames = false) {
    return Filter{true, std::move(pattern), field, all_frames};
  }
  static Filter exclude(std::string pattern, FilterField field = FilterField::any, bool all_frames = false) {
    return Filter{false, std::move(pattern), field, all_frames};
  }
};

// ---- snapshots --------------------------------------------------------------------------

/// Which groups a snapshot's statistics list.
enum class Rows {
  live,  // groups with blocks live when the snapshot was taken
  all,   // also groups whose blocks were all freed: every call site since the process started
};

/// The traced state of the process at one moment: a value, cheap to copy (copies share the
/// data), comparable with another snapshot, storable in a file. Symbolization happens when
/// statistics are asked for, not when the snapshot is taken.
class MEASURE_API Snapshot {
 public:
  Snapshot() = default;  // an empty snapshot
  Snapshot(const Snapshot& other);
  Snapshot(Snapshot&& other) noexcept = default;
  Snapshot& operator=(const Snapshot& other);
  Snapshot& operator=(Snapshot&& other) noexcept;
  ~Snapshot();

  /// Groups the snapshot's call sites, largest live bytes first (then live count, bytes
  /// and count allocated, then key). `cumulative` credits every frame of each stack
  /// (a recursive frame once per stack); By::stack ignores it. Rows::live (the default, as
  /// tracemalloc's) leaves out groups with no block live; their allocations still count in
  /// the alloc_* of the groups that remain.
  std::vector<Statistic> statistics(By by, bool cumulative = false, Rows rows = Rows::live) const;
  /// Differences from `older`, largest absolute change of live bytes first (ties: live
  /// bytes, absolute change of live count, live count, then key). Groups present in only one
  /// snapshot appear with the other side's values as zeros; unchanged groups are kept.
  /// Rows::live leaves out groups with no block live in either snapshot.
  std::vector<StatisticDiff> compare_to(const Snapshot& older, By by, bool cumulative = false,
                                        Rows rows = Rows::live) const;
  /// A new snapshot with the call sites that pass `filters`: a site is kept when it matches
  /// at least one inclusive filter (if any) and no exclusive one.
  Snapshot filter(const std::vector<Filter>& filters) const;

  /// Writes the snapshot as a capture file (`measure report` reads it). Throws
  /// std::runtime_error naming the file when it cannot be written.
  void dump(const std::string& path) const;
  /// Reads a snapshot written by dump(), or any capture file. Throws std::runtime_error.
  static Snapshot load(const std::string& path);

  /// Live bytes when the snapshot was taken, and the peak until then.
  TracedMemory traced_memory() const noexcept;
  /// Distinct call stacks with activity.
  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }

 private:
  friend MEASURE_API Snapshot take_snapshot();
  struct Impl;
  explicit Snapshot(std::shared_ptr<Impl> impl) noexcept;
  std::shared_ptr<Impl> m_impl;
};

/// The traced state now (an empty snapshot when not tracing). Not counted in itself.
MEASURE_API Snapshot take_snapshot();

// ---- scopes -----------------------------------------------------------------------------

/// A call site's activity inside a scope.
struct ScopeSite {
  std::vector<StackFrame> stack;  // innermost first
  std::uint64_t alloc_count = 0;
  std::uint64_t alloc_bytes = 0;
  std::uint64_t free_count = 0;
  std::uint64_t freed_bytes = 0;
  std::int64_t live_bytes = 0;  // its change of live bytes over the scope (negative: it freed more)
  std::int64_t peak_bytes = 0;  // what it held when the scope's live change was highest
};

/// Whether a scope measured anything, and if not, why.
enum class ScopeStatus {
  measured,      // the scope counted its thread's allocations while it was open
  not_tracing,   // allocations are not traced (MEASURE_MODE=off, or another allocator owns malloc)
  too_deep,      // 32 scopes were already open on the thread
  other_thread,  // ended on a thread other than the one that opened it: its counts are lost
};
/// "measured", "allocations are not traced", and so on: for messages.
MEASURE_API const char* to_string(ScopeStatus status) noexcept;

/// What a scope measured, on the thread that opened it (Totals): live_count and live_bytes
/// are the changes over the scope, peak_bytes its own high-water mark of live_bytes and
/// peak_count the change of live blocks at that mark; temporary_count is not measured. Every
/// count is 0 unless measured(): a caller that asserts on counts checks that first.
class MEASURE_API ScopeStats : public Totals {
 public:
  ScopeStatus status = ScopeStatus::not_tracing;

  bool measured() const noexcept { return status == ScopeStatus::measured; }
  /// Every call site that allocated or freed inside the scope, most bytes allocated first.
  std::vector<ScopeSite> sites() const;
  /// The call sites holding memory at the scope's peak, largest first: what made the peak.
  std::vector<ScopeSite> sites_at_peak() const;
  /// Human-readable lines, at most `max_sites` sites (0: the summary line alone), for
  /// messages and logs; says why nothing was measured when nothing was.
  std::string describe(std::size_t max_sites = 10) const;

 private:
  friend class Scope;
  struct Sites;
  std::shared_ptr<const Sites> m_sites;  // toolkit memory; null when the scope had no sites
};

/// Which threads a scope counts.
enum class Threads {
  calling,  // the thread that opened it
  started,  // that thread, and every thread it (or such a thread) creates while the scope is
            // open: std::thread, std::async, pthread_create; from their first instruction
            // until the scope ends
};

/// An RAII region of code on the calling thread: `measure::Scope parse{"parse"};`. Scopes
/// nest; each counts only its own thread's allocations and frees, so other threads never
/// disturb it. Each scope ends itself: scopes may end in any order, and a scope ended on
/// another thread (a coroutine resumed elsewhere) reports ScopeStatus::other_thread instead
/// of another scope's counts. A named scope also adds its costs to the capture under its
/// name (entries, totals, per-site deltas: `measure report --by scope`). Costs tens of
/// nanoseconds when no allocation happens inside, and next to nothing when not tracing. Not
/// copyable or movable.
class MEASURE_API Scope {
 public:
  /// `name` must outlive the scope (a string literal is typical); empty for an unnamed scope.
  /// Threads::started also counts the threads started while it is open (a thread can be in
  /// one such scope at a time; a second reports too_deep); its events are counted under a
  /// lock, and it adds nothing to the capture's per-name scopes.
  explicit Scope(std::string_view name = {}, Threads threads = Threads::calling) noexcept;
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

  /// Ends the scope now (idempotent) and returns what it measured.
  const ScopeStats& end();
  std::string_view name() const noexcept { return m_name; }
  /// False when the scope counts nothing (end() then says why).
  bool active() const noexcept { return m_opened == ScopeStatus::measured; }

 private:
  std::string_view m_name;
  void* m_owner = nullptr;  // the runtime's state of the opening thread
  std::uint64_t m_serial = 0;
  bool m_threads = false;  // opened with Threads::started
  ScopeStatus m_opened = ScopeStatus::not_tracing;
  bool m_open = false;
  ScopeStats m_stats;
};

// ---- testing helpers --------------------------------------------------------------------

/// What one statement allocated: on the calling thread (other threads are never counted),
/// or with Threads::started also on the threads the statement starts.
using Counts = ScopeStats;

template <class F>
Counts count_allocations(F&& f, Threads threads = Threads::calling) {
  Scope scope({}, threads);
  std::forward<F>(f)();
  return scope.end();
}

/// Runs `f` `repetitions` times and keeps the run with the fewest allocations (then the
/// fewest bytes): warm-up effects (first-use caches, lazy initialization) and rare
/// background work then do not make a test flaky. A run that measured nothing is kept only
/// when no run measured anything.
template <class F>
Counts min_allocations(F&& f, int repetitions = 5, Threads threads = Threads::calling) {
  Counts best = count_allocations(f, threads);
  for (int i = 1; i < repetitions; ++i) {
    Counts c = count_allocations(f, threads);
    if (!c.measured()) {
      continue;
    }
    if (!best.measured() || c.alloc_count < best.alloc_count ||
        (c.alloc_count == best.alloc_count && c.alloc_bytes < best.alloc_bytes)) {
      best = std::move(c);
    }
  }
  return best;
}

/// What an allocation limit bounds, in the metric names reports use.
enum class Limit {
  alloc_count,  // allocations the statement made
  alloc_bytes,  // bytes it allocated
  peak_bytes,   // the most bytes it held live at once (its own high-water mark)
  live_bytes,   // bytes it left live when it ended: what it leaked (0 if it freed more)
  live_count,   // blocks it left live when it ended
};

/// The value `limit` bounds, as measured in `counts` (0 when nothing was measured).
MEASURE_API std::uint64_t measured_value(const Counts& counts, Limit limit) noexcept;

/// Nothing when `counts` was measured and its value of `limit` is at most `max`. Otherwise
/// the failure message: "STATEMENT: expected at most MAX allocations, got VALUE: ..." (or
/// bytes allocated, peak bytes, bytes or blocks still live), a summary of the counts, then
/// the call sites behind the broken limit grouped by line, largest first (the allocating
/// lines, the lines holding memory at the peak, or the lines whose blocks are still live),
/// or why nothing was measured. `statement`: the code measured, as written (may be empty).
MEASURE_API std::optional<std::string> check_limit(const Counts& counts, Limit limit, std::uint64_t max,
                                                   std::string_view statement = {});

/// Snapshot testing for allocations: compares the statement's allocations per function
/// (count and bytes, and their total) with the baseline file at `path`. When the file does not
/// exist, or MEASURE_UPDATE_BASELINES is set (and not "0"), writes it and passes. Otherwise
/// returns the failure message when a function (or the total) allocates more than its
/// baseline by more than `tolerance` (0.1: 10%), or a function not in the baseline
/// allocates, listing each such function with its baseline; fewer allocations pass. Fails
/// when nothing was measured (a baseline is never written from nothing) or the file is not
/// a baseline. Functions, not lines, key the file: it survives edits that move lines.
MEASURE_API std::optional<std::string> check_baseline(const Counts& counts, const std::string& path,
                                                      double tolerance = 0.0, std::string_view statement = {});

/// check_limit's message for Limit::alloc_count (whether or not the limit holds).
MEASURE_API std::string describe_excess(const Counts& counts, std::uint64_t limit, std::string_view statement = {});

// ---- blocks -----------------------------------------------------------------------------

struct AllocationSite {
  std::uint64_t size = 0;         // requested bytes
  std::vector<StackFrame> stack;  // where it was allocated, innermost first; empty where the mode
                                  // recorded no stack (counters mode, unsampled blocks in sampled mode)
};

/// The call stack that allocated a live block (tracemalloc's get_object_traceback);
/// nothing when the block is unknown, already freed, or not traced.
MEASURE_API std::optional<AllocationSite> allocation_site(const void* block);

/// Writes a capture file of the process now (`measure report` reads it). `path` empty: the
/// configured output. Returns false when not tracing or the file cannot be written.
MEASURE_API bool write_capture(const std::string& path = {});

}  // namespace measure

template <>
struct std::hash<measure::Key> {
  std::size_t operator()(const measure::Key& key) const noexcept { return key.hash(); }
};
