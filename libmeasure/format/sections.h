// Field layouts of the capture sections, written once and used by both writers: the runtime
// (from its live tables, at exit or at a checkpoint) and the tools (from a decoded Capture,
// e.g. after an import). capture_reader.cpp decodes exactly these layouts.
#pragma once

#include <cstddef>
#include <cstdint>

#include "format/byte_buffer.h"
#include "format/capture_format.h"
#include "format/metrics.h"

namespace measure::format {

struct ProgramFields {
  const char* executable;
  const char* arguments;  // argv, each argument NUL-terminated as in /proc/PID/cmdline
  std::size_t arguments_size;
  std::uint64_t pid;
  std::uint64_t parent_pid;
  CaptureMode mode;
  std::uint32_t depth;
  std::uint64_t sample_interval;
  std::uint64_t start_time_ns;  // wall clock, since the epoch
  std::uint64_t end_time_ns;
  std::uint64_t duration_ns;  // monotonic
  std::uint32_t flags;        // ProgramFlags
};
void encode_program(ByteBuffer& out, const ProgramFields& fields) noexcept;

struct SegmentFields {
  std::uint64_t vaddr;
  std::uint64_t memsz;
  std::uint64_t offset;
  std::uint32_t flags;
};
inline constexpr std::uint64_t loaded_at_end = UINT64_MAX;
struct ModuleFields {
  const char* path;
  std::size_t path_size;
  const unsigned char* build_id;
  std::size_t build_id_size;
  std::uint64_t load_bias;
  std::uint32_t first_generation;
  std::uint64_t end_generation;  // loaded_at_end: still loaded when written
  const SegmentFields* segments;
  std::uint32_t segment_count;
};
/// Inside a modules section, after put_varint(count).
void encode_module(ByteBuffer& out, const ModuleFields& fields) noexcept;

/// Inside a stacks section, after put_varint(count). Stacks are written in increasing id
/// order; `id_delta` is the id minus the previous id (the first stack's id itself).
void encode_stack(ByteBuffer& out, std::uint32_t id_delta, std::uint32_t generation, std::uint32_t flags,
                  const std::uint64_t* frames, std::uint32_t depth) noexcept;

struct SiteFields {
#define MEASURE_SITE_FIELD(name, unit) std::uint64_t name;
  MEASURE_SITE_METRICS(MEASURE_SITE_FIELD)
#undef MEASURE_SITE_FIELD
};
/// Inside a sites section, after put_varint(count); ids increase as for stacks.
void encode_site(ByteBuffer& out, std::uint32_t id_delta, const SiteFields& fields) noexcept;

struct TotalsFields {
  SiteFields counters;
  std::uint64_t live_count;
  std::uint64_t live_bytes;
  std::uint64_t toolkit_bytes;  // the toolkit's own memory at the end
  std::uint64_t toolkit_peak_bytes;
  std::uint64_t resident_bytes;  // RSS of the process when the capture was written
  std::uint64_t threads;         // threads that recorded events
};
void encode_totals(ByteBuffer& out, const TotalsFields& fields) noexcept;

// A diagnostics section holds named counters then warnings:
//   varint n, n x (string name, varint value), varint m, m x string
// Known names are listed in docs/capture-format.md; readers keep unknown names.

struct ScopeFields {
  const char* name;
  std::size_t name_size;
  std::uint64_t entries;
  std::uint64_t alloc_count;
  std::uint64_t alloc_bytes;
  std::uint64_t free_count;
  std::uint64_t freed_bytes;
  std::int64_t net_bytes;  // summed over entries
  std::uint64_t peak_max;  // the largest peak of one entry
  std::uint64_t peak_sum;  // summed over entries
  std::uint32_t site_count;
};
struct ScopeSiteFields {
  std::uint64_t alloc_count;
  std::uint64_t alloc_bytes;
  std::uint64_t free_count;
  std::uint64_t freed_bytes;
};
/// Inside a scopes section (after put_varint(count)): one scope, then exactly `site_count`
/// encode_scope_site calls with increasing stack ids (`id_delta` as for sites).
void encode_scope(ByteBuffer& out, const ScopeFields& fields) noexcept;
void encode_scope_site(ByteBuffer& out, std::uint32_t id_delta, const ScopeSiteFields& fields) noexcept;

/// A symbols section (optional kind `symbols`) carries frames for recorded addresses:
///   varint n, n x string       a string table; index i + 1 names the i-th string, 0 is "unknown"
///   varint m, m x entry        one per address, in increasing address order
/// Each entry is written by encode_address_symbols with its string fields as table indexes.
struct SymbolFrameFields {
  std::uint64_t function;  // string index, 0 when unknown
  std::uint64_t file;      // string index, 0 when unknown
  std::uint32_t line;      // 0 when unknown
};
/// `address_delta`: the address minus the previous entry's (the first entry: the address).
void encode_address_symbols(ByteBuffer& out, std::uint64_t address_delta, std::uint64_t module, std::uint64_t offset,
                            const SymbolFrameFields* frames, std::uint32_t frame_count) noexcept;

/// A module symbols section (optional kind `module_symbols`, after the symbols section whose
/// string table it uses) carries frames per module offset:
///   varint n, n x (varint module_delta, varint m, m x offset entry)
/// Modules are indexes into the modules section in increasing order (`module_delta`: the
/// index minus the previous module's; the first: the index). Offsets are link-time addresses
/// in increasing order (`offset_delta` as for modules).
void encode_module_symbols(ByteBuffer& out, std::uint32_t module_delta, std::uint32_t offset_count) noexcept;
void encode_offset_symbols(ByteBuffer& out, std::uint64_t offset_delta, const SymbolFrameFields* frames,
                           std::uint32_t frame_count) noexcept;

/// A timeline section (optional kind `timeline`):
///   varint interval_ns, varint peak_bytes, varint peak_after_ns, varint peak_before_ns,
///   varint n, n x (varint time_delta_ns, varint live_bytes, varint resident_bytes)
/// Times are nanoseconds since the start of recording; each point's delta is from the
/// previous point (the first point's: from 0). The peak was reached after peak_after_ns and
/// at or before peak_before_ns.
struct TimelineFields {
  std::uint64_t interval_ns;  // the sampling interval the points ended at
  std::uint64_t peak_bytes;
  std::uint64_t peak_after_ns;
  std::uint64_t peak_before_ns;
  std::uint32_t point_count;
};
/// Starts and ends nothing: call inside begin_section(timeline), then exactly `point_count`
/// encode_timeline_point calls.
void encode_timeline(ByteBuffer& out, const TimelineFields& fields) noexcept;
void encode_timeline_point(ByteBuffer& out, std::uint64_t time_delta_ns, std::uint64_t live_bytes,
                           std::uint64_t resident_bytes) noexcept;

/// A summary section (optional kind `summary`):
///   varint n, n x (varint count, varint bytes)     size classes 0 .. n-1 (class 0: blocks of 0
///                                                  bytes; class k: [2^(k-1), 2^k) bytes)
///   varint temporary_bytes, varint inherited_count, varint inherited_bytes
///   varint m, m x (varint size, varint time_ns, varint stack)   largest allocations, largest first
///   varint t, t x thread                           threads listed one by one
///   varint other_threads, 4 x varint               the rest: how many, and their counts summed
/// where thread := varint os_thread_id, string name, varint flags (bit 0: still running when
/// written), varint alloc_count, varint alloc_bytes, varint free_count, varint freed_bytes.
/// Times are nanoseconds since the start of recording; stacks are ids in the stacks section.
struct SummaryThreadFields {
  std::uint64_t os_thread_id;
  const char* name;
  std::size_t name_size;
  std::uint32_t flags;
  std::uint64_t alloc_count;
  std::uint64_t alloc_bytes;
  std::uint64_t free_count;
  std::uint64_t freed_bytes;
};
inline constexpr std::uint32_t summary_thread_running = 1U << 0;
struct SummaryClassFields {
  std::uint64_t count;
  std::uint64_t bytes;
};
struct SummaryLargestFields {
  std::uint64_t size;
  std::uint64_t time_ns;
  std::uint32_t stack;
};
struct SummaryFields {
  const SummaryClassFields* classes;  // size classes 0 .. class_count - 1
  std::uint32_t class_count;
  std::uint64_t temporary_bytes;
  std::uint64_t inherited_count;
  std::uint64_t inherited_bytes;
  const SummaryLargestFields* largest;  // largest first
  std::uint32_t largest_count;
  std::uint32_t thread_count;
};
/// Starts and ends nothing: call inside begin_section(summary), then exactly
/// `thread_count` encode_summary_thread calls, then encode_summary_other once.
void encode_summary(ByteBuffer& out, const SummaryFields& fields) noexcept;
void encode_summary_thread(ByteBuffer& out, const SummaryThreadFields& fields) noexcept;
/// The exited threads not listed one by one: how many, and their counts summed (the
/// fields' id, name and flags are not written).
void encode_summary_other(ByteBuffer& out, std::uint64_t threads, const SummaryThreadFields& counts) noexcept;

/// An intervals section (optional kind `intervals`) holds what each stack allocated and freed
/// in each interval of the run (exact mode):
///   varint n, n x (varint end_delta_ns, varint toolkit_bytes, varint m, m x change)
///   change := varint stack_delta, varint alloc_count, varint alloc_bytes, varint free_count,
///             varint freed_bytes
/// Intervals follow one another: the first starts at 0 (the start of recording), each ends
/// end_delta_ns after the one before it ends. A change counts what its stack (an id in the
/// stacks section, in increasing order; `stack_delta` as for sites) allocated and freed in
/// the interval; stacks that did neither are left out. toolkit_bytes is the toolkit's own
/// memory when the interval ended.
struct IntervalFields {
  std::uint64_t end_delta_ns;
  std::uint64_t toolkit_bytes;
  std::uint32_t change_count;
};
struct IntervalChangeFields {
  std::uint64_t alloc_count;
  std::uint64_t alloc_bytes;
  std::uint64_t free_count;
  std::uint64_t freed_bytes;
};
/// Starts and ends nothing: inside begin_section(intervals), after put_varint(n), each
/// interval's encode_interval, then exactly `change_count` encode_interval_change calls.
void encode_interval(ByteBuffer& out, const IntervalFields& fields) noexcept;
void encode_interval_change(ByteBuffer& out, std::uint32_t stack_delta, const IntervalChangeFields& fields) noexcept;

struct ExitFields {
  std::int64_t status;   // what `measure run` exited with: the exit code, or 128+signal
  std::uint32_t signal;  // 0 when the program exited normally
};
void encode_exit(ByteBuffer& out, const ExitFields& fields) noexcept;

}  // namespace measure::format
