#include "format/runtime_encoder.h"

#include <cerrno>
#include <cstring>
#include <type_traits>

#include "format/sections.h"
#include "platform/platform.h"
#include "runtime/process_memory.h"
#include "runtime/runtime.h"
#include "support/internal_alloc.h"
#include "support/log.h"

namespace measure::detail {
namespace {

struct ModuleWriter {
  format::ByteBuffer* out;
  static void visit(const ModuleRecord& r, void* self) noexcept {
    format::SegmentFields segments[16];
    for (std::uint32_t i = 0; i < r.segment_count; ++i) {
      segments[i] =
          format::SegmentFields{r.segments[i].vaddr, r.segments[i].memsz, r.segments[i].offset, r.segments[i].flags};
    }
    format::encode_module(
        *static_cast<ModuleWriter*>(self)->out,
        format::ModuleFields{r.path, r.path_size, r.build_id, r.build_id_size, r.load_bias, r.first_generation,
                             r.end_generation == ModuleRecord::still_loaded ? format::loaded_at_end : r.end_generation,
                             segments, r.segment_count});
  }
};

// Every thread's counters summed per stack, a window of stack ids at a time: scratch memory
// stops growing at `largest_window` stacks (a table of them all was 56 bytes per stack, fresh
// pages at exit), and stays small for a program with few (a capture written under an
// address-space limit that the program used up).
class SiteWindows {
 public:
  static constexpr std::uint32_t largest_window = 16384;

  /// For a process with `stack_count` stacks.
  explicit SiteWindows(std::uint32_t stack_count) noexcept
      : m_window(stack_count == 0               ? 1
                 : stack_count < largest_window ? stack_count
                                                : largest_window) {}
  /// False when out of memory.
  bool init() noexcept {
    m_sites = static_cast<format::SiteFields*>(platform::map_pages(sites_bytes()));
    m_peaks = static_cast<std::int64_t*>(platform::map_pages(peaks_bytes()));
    // Both are read before written: committed at once rather than faulted in twice a page.
    platform::populate_pages(m_sites, sites_bytes());
    platform::populate_pages(m_peaks, peaks_bytes());
    return m_sites != nullptr && m_peaks != nullptr;
  }
  ~SiteWindows() {
    platform::unmap_pages(m_sites, sites_bytes());
    platform::unmap_pages(m_peaks, peaks_bytes());
  }
  SiteWindows(const SiteWindows&) = delete;
  SiteWindows& operator=(const SiteWindows&) = delete;

  std::uint32_t window() const noexcept { return m_window; }
  /// Sums the counters of stacks [begin, end) (end - begin <= window()), with each thread's part
  /// of the peak whose mark is `mark`; sites whose parts sum below zero are counted in the
  /// diagnostics. The result for stack `begin + i` is at(i).
  void sum(Runtime& rt, std::uint32_t begin, std::uint32_t end, std::uint64_t mark) noexcept {
    std::memset(static_cast<void*>(m_sites), 0, sizeof(format::SiteFields) * (end - begin));
    std::memset(m_peaks, 0, sizeof(std::int64_t) * (end - begin));
    for (ThreadState* t = rt.threads.first(); t != nullptr; t = t->next_in_registry) {
      t->for_each_site(begin, end, [&](std::uint32_t id, const SiteCounters& c) {
        format::SiteFields& s = m_sites[id - begin];
        s.alloc_count += load_relaxed(c.alloc_count);
        s.alloc_bytes += load_relaxed(c.alloc_bytes);
        s.free_count += load_relaxed(c.free_count);
        s.freed_bytes += load_relaxed(c.freed_bytes);
        s.temporary_count += load_relaxed(c.temporary_count);
        m_peaks[id - begin] += c.contribution_at(mark);
      });
    }
    for (std::uint32_t i = 0; i < end - begin; ++i) {
      if (m_peaks[i] < 0) {
        rt.diagnostics.negative_contributions.fetch_add(1, std::memory_order_relaxed);
        m_peaks[i] = 0;
      }
      m_sites[i].peak_bytes = static_cast<std::uint64_t>(m_peaks[i]);
    }
  }
  const format::SiteFields& at(std::uint32_t i) const noexcept { return m_sites[i]; }

 private:
  std::size_t sites_bytes() const noexcept { return sizeof(format::SiteFields) * m_window; }
  std::size_t peaks_bytes() const noexcept { return sizeof(std::int64_t) * m_window; }
  std::uint32_t m_window;
  format::SiteFields* m_sites = nullptr;
  std::int64_t* m_peaks = nullptr;
};

// The sites section: every stack with events, and their sums into `totals`. Threads may still
// record meanwhile, so the section's count comes from a bitmap of the stacks some thread had
// counted events for, made first, and exactly those are encoded, with what their counters
// hold by then. False when out of memory (the section is then empty).
bool encode_sites(format::ByteBuffer& out, Runtime& rt, std::uint32_t count, format::SiteFields* totals) noexcept {
  SiteWindows windows(count);
  std::size_t used_bytes = (static_cast<std::size_t>(count) + 7) / 8;
  auto* used = static_cast<std::uint8_t*>(platform::map_pages(used_bytes == 0 ? 1 : used_bytes));
  bool ready = used != nullptr && windows.init();
  std::uint64_t mark = rt.account.mark();
  std::uint32_t used_count = 0;
  for (ThreadState* t = rt.threads.first(); ready && t != nullptr; t = t->next_in_registry) {
    t->for_each_site(count, [&](std::uint32_t id, const SiteCounters& c) {
      auto bit = static_cast<std::uint8_t>(1U << (id % 8));
      if ((used[id / 8] & bit) == 0 && (load_relaxed(c.alloc_count) != 0 || load_relaxed(c.free_count) != 0)) {
        used[id / 8] = static_cast<std::uint8_t>(used[id / 8] | bit);
        ++used_count;
      }
    });
  }
  out.begin_section(static_cast<std::uint32_t>(format::SectionKind::sites));
  out.put_varint(ready ? used_count : 0);
  std::uint32_t previous = 0;
  for (std::uint32_t begin = 0; ready && begin < count; begin += windows.window()) {
    std::uint32_t end = count - begin < windows.window() ? count : begin + windows.window();
    windows.sum(rt, begin, end, mark);
    for (std::uint32_t id = begin; id < end; ++id) {
      if ((used[id / 8] & (1U << (id % 8))) == 0) {
        continue;
      }
      const format::SiteFields& s = windows.at(id - begin);
      format::encode_site(out, id - previous, s);
      previous = id;
      totals->alloc_count += s.alloc_count;
      totals->alloc_bytes += s.alloc_bytes;
      totals->free_count += s.free_count;
      totals->freed_bytes += s.freed_bytes;
      totals->temporary_count += s.temporary_count;
    }
  }
  out.end_section();
  platform::unmap_pages(used, used_bytes == 0 ? 1 : used_bytes);
  return ready;
}

// The timeline; a final capture adds a last point, taken now (a checkpoint's writer, the
// background thread, has just sampled).
void encode_timeline(format::ByteBuffer& out, Runtime& rt, const CaptureRequest& request) noexcept {
  if (!rt.options.timeline) {
    return;
  }
  if (request.final) {
    ProcessMemory memory = process_memory(rt);
    rt.timeline.sample({platform::monotonic_ns() - rt.start_monotonic_ns, memory.live, request.resident_bytes},
                       memory.peak);
  }
  std::size_t bytes = sizeof(TimelinePoint) * Timeline::capacity;
  auto* points = static_cast<TimelinePoint*>(platform::map_pages(bytes));
  if (points == nullptr) {
    return;  // out of memory: the capture is still complete without its chart
  }
  TimelinePeak peak;
  std::uint64_t interval = 0;
  std::uint32_t n = rt.timeline.copy(points, &peak, &interval);
  out.begin_section(static_cast<std::uint32_t>(format::SectionKind::timeline));
  format::encode_timeline(out, format::TimelineFields{interval, peak.bytes, peak.after_ns, peak.before_ns, n});
  std::uint64_t previous = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    format::encode_timeline_point(out, points[i].time_ns - previous, points[i].live_bytes, points[i].resident_bytes);
    previous = points[i].time_ns;
  }
  out.end_section();
  platform::unmap_pages(points, bytes);
}

void encode_program(format::ByteBuffer& out, Runtime& rt, const CaptureRequest& request) noexcept {
  char exe[4096];
  if (!platform::executable_path(exe, sizeof exe)) {
    exe[0] = '\0';
  }
  constexpr std::size_t args_capacity = 64 * 1024;
  char* args = nullptr;
  std::size_t args_size = 0;
  if (rt.command_line == nullptr) {
    args = static_cast<char*>(platform::map_pages(args_capacity));
    args_size = args != nullptr ? platform::command_line(args, args_capacity) : 0;
  }
  std::uint32_t flags =
      (request.final ? format::program_final : 0U) | (rt.hooks_active ? 0U : format::program_hooks_inactive);
  std::uint64_t now = platform::monotonic_ns();
  format::encode_program(out, format::ProgramFields{exe, rt.command_line != nullptr ? rt.command_line : args,
                                                    rt.command_line != nullptr ? rt.command_line_size : args_size,
                                                    static_cast<std::uint64_t>(request.pid),
                                                    static_cast<std::uint64_t>(request.parent_pid), rt.options.mode,
                                                    rt.options.depth, rt.options.sample_interval, rt.start_realtime_ns,
                                                    platform::realtime_ns(), now - rt.start_monotonic_ns, flags});
  if (args != nullptr) {
    platform::unmap_pages(args, args_capacity);
  }
}

// `shadow_bytes`: rt.shadow.memory_bytes(), asked once per capture (a walk of its pages).
void encode_diagnostics(format::ByteBuffer& out, Runtime& rt, std::uint64_t shadow_bytes) noexcept {
  struct Named {
    const char* name;
    std::uint64_t value;
  };
  const Diagnostics& d = rt.diagnostics;
  Named counters[] = {
      {"unmatched_frees", d.unmatched_frees.load()},
      {"mismatched_frees", d.mismatched_frees.load()},
      {"dropped_events", d.dropped_events.load()},
      {"unknown_stacks", d.unknown_stacks.load()},
      {"bootstrap_allocations", d.bootstrap_allocations.load()},
      {"negative_contributions", d.negative_contributions.load()},
      {"inexact_recalls", rt.account.inexact_recalls()},
      {"unwind_tables", rt.unwinder.has_tables() ? 1U : 0U},
      {"stack_table_bytes", rt.stacks.memory_bytes()},
      {"pointer_table_bytes", rt.pointers.memory_bytes()},
      {"block_shadow_bytes", shadow_bytes},
      {"untraced_forks", d.untraced_forks.load()},
      {"untraced_execs", d.untraced_execs.load()},
      {"scopes_too_deep", d.scopes_too_deep.load()},
      {"attached", rt.attached ? 1U : 0U},
      {"written_at_detach", rt.written_at_detach ? 1U : 0U},
      {"freed_before_attach", d.freed_before_attach.load()},
      {"sample_seed", rt.sample_seed},  // last: sampled mode only
  };
  std::size_t count = sizeof counters / sizeof counters[0] - (rt.options.mode == Mode::sampled ? 0 : 1);
  out.begin_section(static_cast<std::uint32_t>(format::SectionKind::diagnostics));
  out.put_varint(count);
  for (std::size_t i = 0; i < count; ++i) {
    out.put_string(counters[i].name);
    out.put_varint(counters[i].value);
  }
  out.put_varint(rt.hooks_active ? 0 : 1);
  if (!rt.hooks_active) {
    out.put_string("the program's allocation functions were not interposed; this capture is incomplete");
  }
  out.end_section();
}

// Named scopes, summed over threads: each thread keeps its own aggregates, so scope ends never
// contend; they are merged here, per name, through one stack-indexed scratch array.
void encode_scopes(format::ByteBuffer& out, Runtime& rt, std::uint32_t stack_count) noexcept {
  // Names are chosen once: other threads may still be closing scopes while this runs, and
  // the count written first must match the scopes that follow.
  std::uint32_t names = rt.scope_names.count();
  std::size_t chosen_bytes = names;
  auto* chosen = static_cast<unsigned char*>(platform::map_pages(chosen_bytes));
  std::size_t scratch_bytes = sizeof(format::ScopeSiteFields) * (stack_count == 0 ? 1 : stack_count);
  auto* scratch = static_cast<format::ScopeSiteFields*>(platform::map_pages(scratch_bytes));
  if (chosen == nullptr || scratch == nullptr) {
    platform::unmap_pages(chosen, chosen_bytes);
    platform::unmap_pages(scratch, scratch_bytes);
    return;
  }
  std::uint32_t used = 0;
  for (std::uint32_t id = 1; id < names; ++id) {
    for (ThreadState* t = rt.threads.first(); t != nullptr && chosen[id] == 0; t = t->next_in_registry) {
      if (const ScopeAggregate* a = t->scopes.aggregate(id); a != nullptr && a->entries != 0) {
        chosen[id] = 1;
        ++used;
      }
    }
  }
  if (used != 0) {
    out.begin_section(static_cast<std::uint32_t>(format::SectionKind::scopes));
    out.put_varint(used);
  }
  for (std::uint32_t id = 1; id < names; ++id) {
    if (chosen[id] == 0) {
      continue;
    }
    format::ScopeFields f{};
    f.name = rt.scope_names.name(id, &f.name_size);
    struct Merge {
      format::ScopeSiteFields* scratch;
      std::uint32_t stack_count;
    } merge{scratch, stack_count};
    for (ThreadState* t = rt.threads.first(); t != nullptr; t = t->next_in_registry) {
      const ScopeAggregate* a = t->scopes.aggregate(id);
      if (a == nullptr || a->entries == 0) {
        continue;
      }
      f.entries += a->entries;
      f.alloc_count += a->alloc_count;
      f.alloc_bytes += a->alloc_bytes;
      f.free_count += a->free_count;
      f.freed_bytes += a->freed_bytes;
      f.net_bytes += a->net_bytes;
      f.peak_sum += a->peak_sum;
      f.peak_max = a->peak_max > f.peak_max ? a->peak_max : f.peak_max;
      a->sites.for_each(
          [](const ScopeSite& site, void* context) {
            auto* m = static_cast<Merge*>(context);
            if (site.stack < m->stack_count) {
              format::ScopeSiteFields& s = m->scratch[site.stack];
              s.alloc_count += site.alloc_count;
              s.alloc_bytes += site.alloc_bytes;
              s.free_count += site.free_count;
              s.freed_bytes += site.freed_bytes;
            }
          },
          &merge);
    }
    for (std::uint32_t s = 0; s < stack_count; ++s) {
      f.site_count += scratch[s].alloc_count != 0 || scratch[s].free_count != 0 ? 1 : 0;
    }
    format::encode_scope(out, f);
    std::uint32_t previous = 0;
    for (std::uint32_t s = 0; s < stack_count; ++s) {
      if (scratch[s].alloc_count != 0 || scratch[s].free_count != 0) {
        format::encode_scope_site(out, s - previous, scratch[s]);
        previous = s;
        scratch[s] = format::ScopeSiteFields{};
      }
    }
  }
  if (used != 0) {
    out.end_section();
  }
  platform::unmap_pages(chosen, chosen_bytes);
  platform::unmap_pages(scratch, scratch_bytes);
}

}  // namespace

CaptureRequest CaptureRequest::now(bool final, bool frames) noexcept {
  return CaptureRequest{final, frames, platform::process_id(), platform::parent_process_id(),
                        platform::resident_bytes()};
}

void encode_capture_state(Runtime& rt, format::ByteBuffer& out, bool final, bool frames) noexcept {
  encode_capture_state(rt, out, CaptureRequest::now(final, frames));
}

void encode_capture_state(Runtime& rt, format::ByteBuffer& out, const CaptureRequest& request) noexcept {
  bool frames = request.frames;
  out.put_header();
  encode_program(out, rt, request);

  out.begin_section(static_cast<std::uint32_t>(format::SectionKind::modules));
  out.put_varint(rt.modules.count());
  ModuleWriter modules{&out};
  rt.modules.for_each(&ModuleWriter::visit, &modules);
  out.end_section();

  std::uint32_t count = rt.stacks.count();
  out.begin_section(static_cast<std::uint32_t>(format::SectionKind::stacks));
  out.put_varint(count);
  static_assert(std::is_same_v<std::uintptr_t, std::uint64_t>, "frames decode straight into the encoder's addresses");
  std::uint64_t addresses[StackTable::max_frames];
  for (std::uint32_t id = 0; id < count; ++id) {
    const StackRecord* r = rt.stacks.get(id);
    std::uint32_t depth = r != nullptr && frames ? StackTable::frames(*r, addresses) : 0;
    std::uint32_t flags = r != nullptr ? r->flags : 0;
    if (!frames && r != nullptr && r->depth != 0) {
      flags |= format::stack_frames_elided;
    }
    format::encode_stack(out, id == 0 ? 0 : 1, r != nullptr ? r->generation : 0, flags, addresses, depth);
  }

  out.end_section();

  format::TotalsFields totals{};
  if (!encode_sites(out, rt, count, &totals.counters)) {
    LogLine().text("out of memory while aggregating call sites; the capture has no sites").emit();
  }

  if (rt.options.mode != Mode::exact) {
    // Sites hold estimates (sampled) or nothing (counters): the exact totals are the threads'.
    EventTotals sum = light_totals(rt);
    totals.counters = format::SiteFields{};
    totals.counters.alloc_count = sum.alloc_count;
    totals.counters.alloc_bytes = sum.alloc_bytes;
    totals.counters.free_count = sum.free_count;
    totals.counters.freed_bytes = sum.freed_bytes;
  }
  totals.counters.peak_bytes = process_memory(rt).peak;
  totals.live_count = totals.counters.alloc_count - totals.counters.free_count;
  totals.live_bytes = totals.counters.alloc_bytes - totals.counters.freed_bytes;
  // The block shadow's pages are mapped directly, not taken from the internal allocator.
  std::uint64_t shadow_bytes = rt.shadow.memory_bytes();
  std::uint64_t interval_bytes = rt.intervals.memory_bytes();
  totals.toolkit_bytes = internal_bytes() + shadow_bytes + interval_bytes;
  totals.toolkit_peak_bytes = internal_peak_bytes() + shadow_bytes + interval_bytes;
  totals.resident_bytes = request.resident_bytes;
  totals.threads = rt.threads.count();
  format::encode_totals(out, totals);
  encode_diagnostics(out, rt, shadow_bytes);
  encode_scopes(out, rt, count);
  if (frames) {
    encode_timeline(out, rt, request);  // in files, not in-process snapshots
    if (rt.keeps_intervals()) {
      // Up to now, so the intervals add up to the sites (as nearly as threads still
      // recording allow).
      rt.intervals.close(rt, platform::monotonic_ns() - rt.start_monotonic_ns, count);
      rt.intervals.encode(out, count);
    }
    encode_summary(out, rt, count);
  }
  out.put_end();
}

}  // namespace measure::detail
