// A decoded capture file: what the tools read, report on, compare and write back. This is the
// cold side; it uses the standard library freely.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "format/capture_format.h"
#include "format/interval_changes.h"
#include "format/metrics.h"
#include "support/packed_list.h"

namespace measure {

/// The eight metrics of the glossary by name (format/metrics.h declares them).
enum class Metric : std::uint8_t {
#define MEASURE_METRIC_ENUMERATOR(name, unit) name,
  MEASURE_METRICS(MEASURE_METRIC_ENUMERATOR)
#undef MEASURE_METRIC_ENUMERATOR
};
inline constexpr Metric all_metrics[] = {
#define MEASURE_METRIC_VALUE(name, unit) Metric::name,
    MEASURE_METRICS(MEASURE_METRIC_VALUE)
#undef MEASURE_METRIC_VALUE
};
/// The glossary's name ("alloc_count" ...), as JSON and --fail-on spell it.
std::string_view metric_name(Metric metric) noexcept;
std::optional<Metric> parse_metric(std::string_view name) noexcept;
/// True for the byte metrics, false for the counts of blocks.
bool is_byte_metric(Metric metric) noexcept;

/// The member for `metric` of `m`: Metrics, or any struct with the eight metric members (the
/// signed differences of a diff).
template <class M>
constexpr auto metric_member(const M& m, Metric metric) noexcept {
  switch (metric) {
#define MEASURE_METRIC_CASE(name, unit) \
  case Metric::name:                    \
    return m.name;
    MEASURE_METRICS(MEASURE_METRIC_CASE)
#undef MEASURE_METRIC_CASE
  }
  return decltype(m.alloc_count){};
}

/// A set of metrics (for what a capture does not measure).
class MetricSet {
 public:
  constexpr MetricSet() = default;
  constexpr MetricSet(std::initializer_list<Metric> metrics) {
    for (Metric m : metrics) {
      add(m);
    }
  }
  constexpr void add(Metric m) noexcept { m_bits |= static_cast<std::uint8_t>(1U << static_cast<unsigned>(m)); }
  constexpr void add(MetricSet other) noexcept { m_bits |= other.m_bits; }
  constexpr bool contains(Metric m) const noexcept { return (m_bits >> static_cast<unsigned>(m) & 1U) != 0; }
  constexpr bool empty() const noexcept { return m_bits == 0; }
  friend constexpr bool operator==(MetricSet, MetricSet) = default;

 private:
  std::uint8_t m_bits = 0;
};

/// The eight metrics of the glossary (docs/reports.md explains each); in a site, peak_bytes
/// is the site's contribution at the global peak.
struct Metrics {
#define MEASURE_METRIC_FIELD(name, unit) std::uint64_t name = 0;
  MEASURE_METRICS(MEASURE_METRIC_FIELD)
#undef MEASURE_METRIC_FIELD

  Metrics& operator+=(const Metrics& other) noexcept;
  /// The value of one metric.
  std::uint64_t value(Metric metric) const noexcept {
    return metric_member(*this, metric);
  }
  friend bool operator==(const Metrics&, const Metrics&) = default;
};

/// How the process was measured (the format's enum, format/capture_format.h).
using CaptureMode = format::CaptureMode;
std::string_view mode_name(CaptureMode mode) noexcept;

struct Segment {
  std::uint64_t vaddr = 0;
  std::uint64_t memsz = 0;
  std::uint64_t offset = 0;
  std::uint32_t flags = 0;
  friend bool operator==(const Segment&, const Segment&) = default;
};

struct Module {
  std::string path;
  std::string build_id;  // raw bytes
  std::uint64_t load_bias = 0;
  std::uint32_t first_generation = 0;
  std::optional<std::uint32_t> end_generation;  // unset: still loaded at the end
  std::vector<Segment> segments;

  /// True when `address` (a run-time address) lies in one of the module's segments.
  bool contains(std::uint64_t address) const noexcept;
  /// True when the module was loaded in `generation`.
  bool loaded_in(std::uint32_t generation) const noexcept {
    return generation >= first_generation && (!end_generation || generation < *end_generation);
  }
  friend bool operator==(const Module&, const Module&) = default;
};

enum StackFlag : std::uint32_t {
  stack_truncated = 1U << 0,  // the walk stopped at the depth limit
  stack_partial = 1U << 1,    // unwound without unwind tables
  stack_elided = 1U << 2,     // frames left out (an in-process snapshot fetches them later)
  stack_inherited = 1U << 3,  // a forked child's blocks allocated by its parent before the fork

};

struct Stack {
  std::uint32_t generation = 0;
  std::uint32_t flags = 0;
  PackedList<std::uint64_t> frames;  // return addresses, innermost first
  friend bool operator==(const Stack&, const Stack&) = default;
};

struct Site {
  std::uint32_t stack = 0;  // index into Capture::stacks
  Metrics metrics;
  friend bool operator==(const Site&, const Site&) = default;
};

struct ExitInfo {
  std::int64_t status = 0;   // as `measure run` exited: the code, or 128+signal
  std::uint32_t signal = 0;  // 0: exited normally
  friend bool operator==(const ExitInfo&, const ExitInfo&) = default;
};

struct Program {
  std::string executable;
  std::vector<std::string> arguments;
  std::uint64_t pid = 0;
  std::uint64_t parent_pid = 0;
  CaptureMode mode = CaptureMode::exact;
  std::uint32_t depth = 0;
  std::uint64_t sample_interval = 0;
  std::uint64_t start_time_ns = 0;
  std::uint64_t end_time_ns = 0;
  std::uint64_t duration_ns = 0;
  std::uint32_t flags = 0;
  std::optional<ExitInfo> exit;
  friend bool operator==(const Program&, const Program&) = default;
};

struct Diagnostic {
  std::string name;
  std::uint64_t value = 0;
  friend bool operator==(const Diagnostic&, const Diagnostic&) = default;
};

/// A named snapshot scope, summed over its entries (see docs/api.md).
struct ScopeSiteCounts {
  std::uint32_t stack = 0;  // index into Capture::stacks
  std::uint64_t alloc_count = 0;
  std::uint64_t alloc_bytes = 0;
  std::uint64_t free_count = 0;
  std::uint64_t freed_bytes = 0;
  friend bool operator==(const ScopeSiteCounts&, const ScopeSiteCounts&) = default;
};

struct ScopeRecord {
  std::string name;
  std::uint64_t entries = 0;  // how many times a scope of this name was closed
  std::uint64_t alloc_count = 0;
  std::uint64_t alloc_bytes = 0;
  std::uint64_t free_count = 0;
  std::uint64_t freed_bytes = 0;
  std::int64_t net_bytes = 0;  // summed over entries
  std::uint64_t peak_max = 0;  // the largest peak of one entry
  std::uint64_t peak_sum = 0;  // summed over entries
  std::vector<ScopeSiteCounts> sites;
  friend bool operator==(const ScopeRecord&, const ScopeRecord&) = default;
};

/// One frame of the symbols a capture carries for an address. Strings are indexes into
/// CaptureSymbols::strings (0: unknown).
struct SymbolFrame {
  std::uint32_t function = 0;  // as the recording named it (demangled)
  std::uint32_t file = 0;      // source file
  std::uint32_t line = 0;      // 0 when unknown
  friend bool operator==(const SymbolFrame&, const SymbolFrame&) = default;
};

struct AddressSymbols {
  std::uint64_t address = 0;
  std::uint32_t module = 0;         // path of the module (a string index, 0: unknown)
  std::uint64_t offset = 0;         // link-time address in the module; 0 when unknown
  std::vector<SymbolFrame> frames;  // innermost first, each inlined into the next; empty: unnamed
  friend bool operator==(const AddressSymbols&, const AddressSymbols&) = default;
};

/// The frames of one link-time offset of a module, as the module's own file named them when
/// the capture was symbolized (`measure run` after the program ended, `measure symbolize`).
struct OffsetSymbols {
  std::uint64_t offset = 0;         // the return address minus the module's load bias
  std::vector<SymbolFrame> frames;  // innermost first, each inlined into the next; empty: the file names nothing there
  friend bool operator==(const OffsetSymbols&, const OffsetSymbols&) = default;
};

struct ModuleSymbols {
  std::uint32_t module = 0;            // index into Capture::modules
  std::vector<OffsetSymbols> offsets;  // sorted by offset, each offset once
  friend bool operator==(const ModuleSymbols&, const ModuleSymbols&) = default;
};

/// Symbols the capture carries, so reports and diffs need neither the recorded binaries nor
/// their debug information. Two kinds, looked up before any module file is read:
/// - `addresses`: a recording symbolized when it was made (an imported heaptrack file); they
///   apply to every module generation.
/// - `modules`: what a module's own file said about the offsets the capture recorded in it,
///   stored while the file was still the one that ran. An offset missing here is looked up
///   in the file on disk, as for a capture without stored symbols.
/// Strings are shared, so memory stays proportional to the file.
struct CaptureSymbols {
  std::vector<std::string> strings;       // string index i names strings[i - 1]
  std::vector<AddressSymbols> addresses;  // sorted by address, each address once
  std::vector<ModuleSymbols> modules;     // sorted by module index, each module once

  /// The string of an index; empty for 0 (and for an index past the table).
  const std::string& string(std::uint32_t index) const noexcept;
  /// The entry for exactly `address`, or nullptr.
  const AddressSymbols* find(std::uint64_t address) const noexcept;
  /// The stored symbols of module `module` (an index into Capture::modules), or nullptr.
  const ModuleSymbols* find_module(std::uint32_t module) const noexcept;
  /// The stored entry for `offset` in module `module`, or nullptr.
  const OffsetSymbols* find(std::uint32_t module, std::uint64_t offset) const noexcept;
  bool empty() const noexcept { return addresses.empty() && modules.empty(); }
  friend bool operator==(const CaptureSymbols&, const CaptureSymbols&) = default;
};

/// Live bytes and resident memory over the run (docs/reports.md, "Timeline"). Empty when the
/// capture has none (timeline off, an in-process capture, an import).
struct TimelineSample {
  std::uint64_t time_ns = 0;  // since the start of recording
  std::uint64_t live_bytes = 0;
  std::uint64_t resident_bytes = 0;
  friend bool operator==(const TimelineSample&, const TimelineSample&) = default;
};
struct CaptureTimeline {
  std::uint64_t interval_ns = 0;    // the sampling interval the points ended at
  std::uint64_t peak_bytes = 0;     // the global peak, reached after peak_after_ns and at or
  std::uint64_t peak_after_ns = 0;  // before peak_before_ns
  std::uint64_t peak_before_ns = 0;
  std::vector<TimelineSample> samples;  // in time order
  bool empty() const noexcept { return samples.empty(); }
  friend bool operator==(const CaptureTimeline&, const CaptureTimeline&) = default;
};

/// Summary statistics of the run (docs/reports.md, "Summary"): what every allocation's size
/// and lifetime add up to, the largest single allocations and the split by thread.
struct SizeClassCounts {
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
  friend bool operator==(const SizeClassCounts&, const SizeClassCounts&) = default;
};
struct LargestAllocation {
  std::uint64_t size = 0;
  std::uint64_t time_ns = 0;  // since the start of recording
  std::uint32_t stack = 0;    // index into Capture::stacks (0: no stack taken, as in the light modes)
  friend bool operator==(const LargestAllocation&, const LargestAllocation&) = default;
};
struct ThreadCounts {
  std::uint64_t os_thread_id = 0;
  std::string name;      // empty when unnamed or unknown
  bool running = false;  // had not exited when the capture was written
  std::uint64_t alloc_count = 0;
  std::uint64_t alloc_bytes = 0;
  std::uint64_t free_count = 0;
  std::uint64_t freed_bytes = 0;
  friend bool operator==(const ThreadCounts&, const ThreadCounts&) = default;
};
struct CaptureSummary {
  bool recorded = false;  // false: the capture has none (an in-process snapshot, an import)
  /// Class 0: blocks of 0 bytes; class k: [2^(k-1), 2^k) bytes. Trailing empty classes left out.
  std::vector<SizeClassCounts> sizes;
  std::uint64_t temporary_bytes = 0;  // bytes of the temporary_count blocks (exact mode)
  // A forked child's blocks from its parent: in the totals, in no size class.
  std::uint64_t inherited_count = 0;
  std::uint64_t inherited_bytes = 0;
  std::vector<LargestAllocation> largest;  // largest first; the earliest first among equal sizes
  std::vector<ThreadCounts> threads;       // exited threads in exit order, then running ones
  std::uint64_t other_threads = 0;         // exited threads not listed one by one ...
  ThreadCounts other;                      // ... and their counts summed
  friend bool operator==(const CaptureSummary&, const CaptureSummary&) = default;
};

/// What the stacks allocated and freed in each interval of the run (docs/reports.md, "A
/// stretch of time"): exact-mode recordings only. Intervals follow one another from time 0.
struct CaptureInterval {
  std::uint64_t end_ns = 0;         // since the start of recording; it starts where the one before ends
  std::uint64_t toolkit_bytes = 0;  // the toolkit's own memory at its end
  IntervalChanges changes;          // by stack, in increasing order; stacks that did nothing left out
  friend bool operator==(const CaptureInterval&, const CaptureInterval&) = default;
};

struct Capture {
  Program program;
  std::vector<Module> modules;
  std::vector<Stack> stacks;
  std::vector<Site> sites;
  Metrics totals;
  std::uint64_t toolkit_bytes = 0;
  std::uint64_t toolkit_peak_bytes = 0;
  std::uint64_t resident_bytes = 0;
  std::uint64_t threads = 0;
  std::vector<Diagnostic> diagnostics;
  std::vector<std::string> warnings;
  std::vector<ScopeRecord> scopes;
  CaptureSymbols symbols;  // empty until the capture is symbolized (measure run, measure symbolize, import)
  CaptureTimeline timeline;
  CaptureSummary summary;
  std::vector<CaptureInterval> intervals;  // empty when the capture has none

  /// The value of a named diagnostic counter, 0 when absent.
  std::uint64_t diagnostic(std::string_view name) const noexcept;
  /// The metrics the capture's mode does not measure for its call sites (sampled mode keeps
  /// no per-site peak or temporaries; counters mode keeps no call sites at all) and for the
  /// whole process. Reports show them as unknown, never as 0.
  MetricSet unmeasured_in_sites() const noexcept;
  MetricSet unmeasured_in_totals() const noexcept;
  /// True when the capture was written at a checkpoint of a running program, not at its
  /// exit: the program was killed, or the capture is a snapshot of one still running.
  bool partial() const noexcept;
  friend bool operator==(const Capture&, const Capture&) = default;
};

/// Decodes a capture. Throws FormatError naming `source` and what is wrong (not a capture,
/// truncated, corrupt, newer version); never returns a partial capture.
Capture parse_capture(std::span<const unsigned char> bytes, const std::string& source);
/// Reads and decodes a file. Throws IoError when it cannot be read, FormatError as above.
Capture read_capture(const std::string& path);
/// Encodes a capture with the same section layouts the runtime writes.
std::vector<unsigned char> encode_capture(const Capture& capture);
/// Captures hold the program's arguments and paths: a new capture file is readable by its
/// owner only (a replaced one keeps its permission bits).
inline constexpr unsigned capture_file_mode = 0600;
/// Writes atomically (temporary file, then rename), as write_file_atomically with
/// capture_file_mode. Throws IoError.
void write_capture(const Capture& capture, const std::string& path);
/// Reads the whole file at `path`. Throws IoError.
std::vector<unsigned char> read_file(const std::string& path);
/// Writes `bytes` to `path` atomically: a temporary file of an unpredictable name in the same
/// directory, created new (never through a symbolic link or other file already there), then
/// renamed over `path`. A new file gets `new_mode` less the umask; a replaced regular file
/// keeps its permission bits. A symbolic link given as `path` is kept: the file it names is
/// replaced. A device, FIFO or socket (/dev/null, /dev/stdout) is written in place instead,
/// never replaced. Throws IoError.
void write_file_atomically(const std::string& path, std::span<const unsigned char> bytes, unsigned new_mode = 0666);

}  // namespace measure
