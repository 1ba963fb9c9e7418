#include "format/sections.h"

namespace measure::format {

void encode_program(ByteBuffer& out, const ProgramFields& f) noexcept {
  out.begin_section(static_cast<std::uint32_t>(SectionKind::program));
  out.put_string(f.executable);
  out.put_string(f.arguments, f.arguments_size);
  out.put_varint(f.pid);
  out.put_varint(f.parent_pid);
  out.put_varint(static_cast<std::uint64_t>(f.mode));
  out.put_varint(f.depth);
  out.put_varint(f.sample_interval);
  out.put_varint(f.start_time_ns);
  out.put_varint(f.end_time_ns);
  out.put_varint(f.duration_ns);
  out.put_varint(f.flags);
  out.end_section();
}

void encode_module(ByteBuffer& out, const ModuleFields& f) noexcept {
  out.put_string(f.path, f.path_size);
  out.put_varint(f.build_id_size);
  out.append(f.build_id, f.build_id_size);
  out.put_varint(f.load_bias);
  out.put_varint(f.first_generation);
  out.put_varint(f.end_generation == loaded_at_end ? 0 : f.end_generation + 1);
  out.put_varint(f.segment_count);
  for (std::uint32_t i = 0; i < f.segment_count; ++i) {
    out.put_varint(f.segments[i].vaddr);
    out.put_varint(f.segments[i].memsz);
    out.put_varint(f.segments[i].offset);
    out.put_varint(f.segments[i].flags);
  }
}

void encode_stack(ByteBuffer& out, std::uint32_t id_delta, std::uint32_t generation, std::uint32_t flags,
                  const std::uint64_t* frames, std::uint32_t depth) noexcept {
  out.put_varint(id_delta);
  out.put_varint(generation);
  out.put_varint(flags);
  out.put_varint(depth);
  // Frames of one stack sit close together in the address space: store differences.
  std::uint64_t previous = 0;
  for (std::uint32_t i = 0; i < depth; ++i) {
    out.put_signed(static_cast<std::int64_t>(frames[i] - previous));
    previous = frames[i];
  }
}

void encode_site(ByteBuffer& out, std::uint32_t id_delta, const SiteFields& f) noexcept {
  out.put_varint(id_delta);
  out.put_varint(f.alloc_count);
  out.put_varint(f.alloc_bytes);
  out.put_varint(f.free_count);
  out.put_varint(f.freed_bytes);
  out.put_varint(f.temporary_count);
  out.put_varint(f.peak_bytes);
}

void encode_totals(ByteBuffer& out, const TotalsFields& f) noexcept {
  out.begin_section(static_cast<std::uint32_t>(SectionKind::totals));
  encode_site(out, 0, f.counters);
  out.put_varint(f.live_count);
  out.put_varint(f.live_bytes);
  out.put_varint(f.toolkit_bytes);
  out.put_varint(f.toolkit_peak_bytes);
  out.put_varint(f.resident_bytes);
  out.put_varint(f.threads);
  out.end_section();
}

void encode_scope(ByteBuffer& out, const ScopeFields& f) noexcept {
  out.put_string(f.name, f.name_size);
  out.put_varint(f.entries);
  out.put_varint(f.alloc_count);
  out.put_varint(f.alloc_bytes);
  out.put_varint(f.free_count);
  out.put_varint(f.freed_bytes);
  out.put_signed(f.net_bytes);
  out.put_varint(f.peak_max);
  out.put_varint(f.peak_sum);
  out.put_varint(f.site_count);
}

void encode_scope_site(ByteBuffer& out, std::uint32_t id_delta, const ScopeSiteFields& f) noexcept {
  out.put_varint(id_delta);
  out.put_varint(f.alloc_count);
  out.put_varint(f.alloc_bytes);
  out.put_varint(f.free_count);
  out.put_varint(f.freed_bytes);
}

namespace {

void encode_frames(ByteBuffer& out, const SymbolFrameFields* frames, std::uint32_t frame_count) noexcept {
  out.put_varint(frame_count);
  for (std::uint32_t i = 0; i < frame_count; ++i) {
    out.put_varint(frames[i].function);
    out.put_varint(frames[i].file);
    out.put_varint(frames[i].line);
  }
}

}  // namespace

void encode_address_symbols(ByteBuffer& out, std::uint64_t address_delta, std::uint64_t module, std::uint64_t offset,
                            const SymbolFrameFields* frames, std::uint32_t frame_count) noexcept {
  out.put_varint(address_delta);
  out.put_varint(module);
  out.put_varint(offset);
  encode_frames(out, frames, frame_count);
}

void encode_module_symbols(ByteBuffer& out, std::uint32_t module_delta, std::uint32_t offset_count) noexcept {
  out.put_varint(module_delta);
  out.put_varint(offset_count);
}

void encode_offset_symbols(ByteBuffer& out, std::uint64_t offset_delta, const SymbolFrameFields* frames,
                           std::uint32_t frame_count) noexcept {
  out.put_varint(offset_delta);
  encode_frames(out, frames, frame_count);
}

void encode_timeline(ByteBuffer& out, const TimelineFields& f) noexcept {
  out.put_varint(f.interval_ns);
  out.put_varint(f.peak_bytes);
  out.put_varint(f.peak_after_ns);
  out.put_varint(f.peak_before_ns);
  out.put_varint(f.point_count);
}

void encode_timeline_point(ByteBuffer& out, std::uint64_t time_delta_ns, std::uint64_t live_bytes,
                           std::uint64_t resident_bytes) noexcept {
  out.put_varint(time_delta_ns);
  out.put_varint(live_bytes);
  out.put_varint(resident_bytes);
}

void encode_summary(ByteBuffer& out, const SummaryFields& f) noexcept {
  out.put_varint(f.class_count);
  for (std::uint32_t i = 0; i < f.class_count; ++i) {
    out.put_varint(f.classes[i].count);
    out.put_varint(f.classes[i].bytes);
  }
  out.put_varint(f.temporary_bytes);
  out.put_varint(f.inherited_count);
  out.put_varint(f.inherited_bytes);
  out.put_varint(f.largest_count);
  for (std::uint32_t i = 0; i < f.largest_count; ++i) {
    out.put_varint(f.largest[i].size);
    out.put_varint(f.largest[i].time_ns);
    out.put_varint(f.largest[i].stack);
  }
  out.put_varint(f.thread_count);
}

void encode_summary_other(ByteBuffer& out, std::uint64_t threads, const SummaryThreadFields& f) noexcept {
  out.put_varint(threads);
  out.put_varint(f.alloc_count);
  out.put_varint(f.alloc_bytes);
  out.put_varint(f.free_count);
  out.put_varint(f.freed_bytes);
}

void encode_summary_thread(ByteBuffer& out, const SummaryThreadFields& f) noexcept {
  out.put_varint(f.os_thread_id);
  out.put_string(f.name, f.name_size);
  out.put_varint(f.flags);
  out.put_varint(f.alloc_count);
  out.put_varint(f.alloc_bytes);
  out.put_varint(f.free_count);
  out.put_varint(f.freed_bytes);
}

void encode_exit(ByteBuffer& out, const ExitFields& f) noexcept {
  out.begin_section(static_cast<std::uint32_t>(SectionKind::exit));
  out.put_signed(f.status);
  out.put_varint(f.signal);
  out.end_section();
}

void encode_interval(ByteBuffer& out, const IntervalFields& f) noexcept {
  out.put_varint(f.end_delta_ns);
  out.put_varint(f.toolkit_bytes);
  out.put_varint(f.change_count);
}

void encode_interval_change(ByteBuffer& out, std::uint32_t stack_delta, const IntervalChangeFields& f) noexcept {
  out.put_varint(stack_delta);
  out.put_varint(f.alloc_count);
  out.put_varint(f.alloc_bytes);
  out.put_varint(f.free_count);
  out.put_varint(f.freed_bytes);
}

}  // namespace measure::format
