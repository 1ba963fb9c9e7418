// Encoding a decoded Capture back to bytes, with the section encoders the runtime uses, and
// writing files atomically.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "format/capture.h"
#include "format/capture_format.h"
#include "format/sections.h"
#include "platform/platform.h"
#include "support/error.h"

namespace measure {

std::string_view mode_name(CaptureMode mode) noexcept {
  switch (mode) {
    case CaptureMode::off:
      return "off";
    case CaptureMode::exact:
      return "exact";
    case CaptureMode::sampled:
      return "sampled";
    case CaptureMode::counters:
      return "counters";
  }
  return "unknown";
}

Metrics& Metrics::operator+=(const Metrics& o) noexcept {
#define MEASURE_METRIC_ADD(name, unit) name += o.name;
  MEASURE_METRICS(MEASURE_METRIC_ADD)
#undef MEASURE_METRIC_ADD
  return *this;
}

std::string_view metric_name(Metric metric) noexcept {
  static constexpr std::string_view names[] = {
#define MEASURE_METRIC_NAME(name, unit) #name,
      MEASURE_METRICS(MEASURE_METRIC_NAME)
#undef MEASURE_METRIC_NAME
  };
  return names[static_cast<std::size_t>(metric)];
}

std::optional<Metric> parse_metric(std::string_view name) noexcept {
  for (Metric m : all_metrics) {
    if (metric_name(m) == name) {
      return m;
    }
  }
  return std::nullopt;
}

bool is_byte_metric(Metric metric) noexcept {
  static constexpr bool bytes[] = {
#define MEASURE_METRIC_IS_BYTES(name, unit) std::string_view(#unit) == "bytes",
      MEASURE_METRICS(MEASURE_METRIC_IS_BYTES)
#undef MEASURE_METRIC_IS_BYTES
  };
  return bytes[static_cast<std::size_t>(metric)];
}

bool Module::contains(std::uint64_t address) const noexcept {
  for (const Segment& s : segments) {
    std::uint64_t begin = load_bias + s.vaddr;
    if (address >= begin && address - begin < s.memsz) {
      return true;
    }
  }
  return false;
}

std::uint64_t Capture::diagnostic(std::string_view name) const noexcept {
  for (const Diagnostic& d : diagnostics) {
    if (d.name == name) {
      return d.value;
    }
  }
  return 0;
}

MetricSet Capture::unmeasured_in_sites() const noexcept {
  switch (program.mode) {
    case CaptureMode::sampled:
    case CaptureMode::counters:
      return {Metric::peak_bytes, Metric::temporary_count};
    case CaptureMode::off:
    case CaptureMode::exact:
      break;
  }
  return {};
}

MetricSet Capture::unmeasured_in_totals() const noexcept {
  return program.mode == CaptureMode::sampled || program.mode == CaptureMode::counters
             ? MetricSet{Metric::temporary_count}
             : MetricSet{};
}

bool Capture::partial() const noexcept {
  return (program.flags & format::program_final) == 0;
}

const std::string& CaptureSymbols::string(std::uint32_t index) const noexcept {
  static const std::string unknown;
  return index == 0 || index > strings.size() ? unknown : strings[index - 1];
}

const AddressSymbols* CaptureSymbols::find(std::uint64_t address) const noexcept {
  auto it = std::lower_bound(addresses.begin(), addresses.end(), address,
                             [](const AddressSymbols& s, std::uint64_t a) { return s.address < a; });
  return it != addresses.end() && it->address == address ? &*it : nullptr;
}

const ModuleSymbols* CaptureSymbols::find_module(std::uint32_t module) const noexcept {
  auto it = std::lower_bound(modules.begin(), modules.end(), module,
                             [](const ModuleSymbols& s, std::uint32_t m) { return s.module < m; });
  return it != modules.end() && it->module == module ? &*it : nullptr;
}

const OffsetSymbols* CaptureSymbols::find(std::uint32_t module, std::uint64_t offset) const noexcept {
  const ModuleSymbols* m = find_module(module);
  if (m == nullptr) {
    return nullptr;
  }
  auto it = std::lower_bound(m->offsets.begin(), m->offsets.end(), offset,
                             [](const OffsetSymbols& s, std::uint64_t o) { return s.offset < o; });
  return it != m->offsets.end() && it->offset == offset ? &*it : nullptr;
}

namespace {

format::SiteFields site_fields(const Metrics& m) noexcept {
  format::SiteFields f{};
#define MEASURE_SITE_FIELD(name, unit) f.name = m.name;
  MEASURE_SITE_METRICS(MEASURE_SITE_FIELD)
#undef MEASURE_SITE_FIELD
  return f;
}

std::vector<format::SymbolFrameFields> frame_fields(const std::vector<SymbolFrame>& frames) {
  std::vector<format::SymbolFrameFields> fields;
  fields.reserve(frames.size());
  for (const SymbolFrame& f : frames) {
    fields.push_back({f.function, f.file, f.line});
  }
  return fields;
}

// The string table and the address entries; the module entries follow in a section of their
// own, so readers that predate them still read the rest.
void encode_symbols(format::ByteBuffer& out, const CaptureSymbols& symbols) {
  out.begin_section(static_cast<std::uint32_t>(format::SectionKind::symbols));
  out.put_varint(symbols.strings.size());
  for (const std::string& s : symbols.strings) {
    out.put_string(s.data(), s.size());
  }
  out.put_varint(symbols.addresses.size());
  std::uint64_t previous = 0;
  for (const AddressSymbols& a : symbols.addresses) {
    if (&a != &symbols.addresses.front() && a.address <= previous) {
      throw Error("internal error: capture symbols are not sorted by address");
    }
    std::vector<format::SymbolFrameFields> frames = frame_fields(a.frames);
    format::encode_address_symbols(out, a.address - previous, a.module, a.offset, frames.data(),
                                   static_cast<std::uint32_t>(frames.size()));
    previous = a.address;
  }
  out.end_section();
  if (symbols.modules.empty()) {
    return;
  }
  out.begin_section(static_cast<std::uint32_t>(format::SectionKind::module_symbols));
  out.put_varint(symbols.modules.size());
  std::uint32_t previous_module = 0;
  for (const ModuleSymbols& m : symbols.modules) {
    if (&m != &symbols.modules.front() && m.module <= previous_module) {
      throw Error("internal error: module symbols are not sorted by module");
    }
    format::encode_module_symbols(out, m.module - previous_module, static_cast<std::uint32_t>(m.offsets.size()));
    std::uint64_t previous_offset = 0;
    for (const OffsetSymbols& o : m.offsets) {
      if (&o != &m.offsets.front() && o.offset <= previous_offset) {
        throw Error("internal error: module symbols are not sorted by offset");
      }
      std::vector<format::SymbolFrameFields> frames = frame_fields(o.frames);
      format::encode_offset_symbols(out, o.offset - previous_offset, frames.data(),
                                    static_cast<std::uint32_t>(frames.size()));
      previous_offset = o.offset;
    }
    previous_module = m.module;
  }
  out.end_section();
}

format::SummaryThreadFields thread_fields(const ThreadCounts& t) {
  return format::SummaryThreadFields{
      t.os_thread_id, t.name.data(), t.name.size(), t.running ? format::summary_thread_running : 0U,
      t.alloc_count,  t.alloc_bytes, t.free_count,  t.freed_bytes};
}

void encode_summary(format::ByteBuffer& out, const CaptureSummary& s) {
  std::vector<format::SummaryClassFields> classes;
  for (const SizeClassCounts& c : s.sizes) {
    classes.push_back({c.count, c.bytes});
  }
  std::vector<format::SummaryLargestFields> largest;
  for (const LargestAllocation& a : s.largest) {
    largest.push_back({a.size, a.time_ns, a.stack});
  }
  out.begin_section(static_cast<std::uint32_t>(format::SectionKind::summary));
  format::encode_summary(out, format::SummaryFields{classes.data(), static_cast<std::uint32_t>(classes.size()),
                                                    s.temporary_bytes, s.inherited_count, s.inherited_bytes,
                                                    largest.data(), static_cast<std::uint32_t>(largest.size()),
                                                    static_cast<std::uint32_t>(s.threads.size())});
  for (const ThreadCounts& t : s.threads) {
    format::encode_summary_thread(out, thread_fields(t));
  }
  format::encode_summary_other(out, s.other_threads, thread_fields(s.other));
  out.end_section();
}

}  // namespace

std::vector<unsigned char> encode_capture(const Capture& c) {
  format::ByteBuffer out;
  out.put_header();
  std::string args;
  for (const std::string& a : c.program.arguments) {
    args += a;
    args.push_back('\0');
  }
  const Program& p = c.program;
  format::encode_program(
      out, format::ProgramFields{p.executable.c_str(), args.data(), args.size(), p.pid, p.parent_pid, p.mode, p.depth,
                                 p.sample_interval, p.start_time_ns, p.end_time_ns, p.duration_ns, p.flags});

  out.begin_section(static_cast<std::uint32_t>(format::SectionKind::modules));
  out.put_varint(c.modules.size());
  for (const Module& m : c.modules) {
    std::vector<format::SegmentFields> segments;
    for (const Segment& s : m.segments) {
      segments.push_back({s.vaddr, s.memsz, s.offset, s.flags});
    }
    format::encode_module(out, format::ModuleFields{m.path.data(), m.path.size(),
                                                    reinterpret_cast<const unsigned char*>(m.build_id.data()),
                                                    m.build_id.size(), m.load_bias, m.first_generation,
                                                    m.end_generation ? *m.end_generation : format::loaded_at_end,
                                                    segments.data(), static_cast<std::uint32_t>(segments.size())});
  }
  out.end_section();

  out.begin_section(static_cast<std::uint32_t>(format::SectionKind::stacks));
  out.put_varint(c.stacks.size());
  std::vector<std::uint64_t> frames;
  for (std::size_t i = 0; i < c.stacks.size(); ++i) {
    const Stack& s = c.stacks[i];
    s.frames.decode(frames);
    format::encode_stack(out, i == 0 ? 0 : 1, s.generation, s.flags, frames.data(),
                         static_cast<std::uint32_t>(frames.size()));
  }
  out.end_section();

  out.begin_section(static_cast<std::uint32_t>(format::SectionKind::sites));
  out.put_varint(c.sites.size());
  std::uint32_t previous = 0;
  for (const Site& s : c.sites) {
    format::encode_site(out, s.stack - previous, site_fields(s.metrics));
    previous = s.stack;
  }
  out.end_section();

  format::encode_totals(out, format::TotalsFields{site_fields(c.totals), c.totals.live_count, c.totals.live_bytes,
                                                  c.toolkit_bytes, c.toolkit_peak_bytes, c.resident_bytes, c.threads});

  out.begin_section(static_cast<std::uint32_t>(format::SectionKind::diagnostics));
  out.put_varint(c.diagnostics.size());
  for (const Diagnostic& d : c.diagnostics) {
    out.put_string(d.name.data(), d.name.size());
    out.put_varint(d.value);
  }
  out.put_varint(c.warnings.size());
  for (const std::string& w : c.warnings) {
    out.put_string(w.data(), w.size());
  }
  out.end_section();

  if (!c.scopes.empty()) {
    out.begin_section(static_cast<std::uint32_t>(format::SectionKind::scopes));
    out.put_varint(c.scopes.size());
    for (const ScopeRecord& s : c.scopes) {
      format::encode_scope(out, format::ScopeFields{s.name.data(), s.name.size(), s.entries, s.alloc_count,
                                                    s.alloc_bytes, s.free_count, s.freed_bytes, s.net_bytes, s.peak_max,
                                                    s.peak_sum, static_cast<std::uint32_t>(s.sites.size())});
      std::uint32_t previous_site = 0;
      for (const ScopeSiteCounts& site : s.sites) {
        format::encode_scope_site(
            out, site.stack - previous_site,
            format::ScopeSiteFields{site.alloc_count, site.alloc_bytes, site.free_count, site.freed_bytes});
        previous_site = site.stack;
      }
    }
    out.end_section();
  }
  // Written whenever they hold anything, so what is read back is what was given.
  if (!c.symbols.empty() || !c.symbols.strings.empty()) {
    encode_symbols(out, c.symbols);
  }
  if (c.timeline != CaptureTimeline{}) {
    const CaptureTimeline& t = c.timeline;
    out.begin_section(static_cast<std::uint32_t>(format::SectionKind::timeline));
    format::encode_timeline(out, format::TimelineFields{t.interval_ns, t.peak_bytes, t.peak_after_ns, t.peak_before_ns,
                                                        static_cast<std::uint32_t>(t.samples.size())});
    std::uint64_t previous_time = 0;
    for (const TimelineSample& s : t.samples) {
      if (s.time_ns < previous_time) {
        throw Error("internal error: timeline samples are not in time order");
      }
      format::encode_timeline_point(out, s.time_ns - previous_time, s.live_bytes, s.resident_bytes);
      previous_time = s.time_ns;
    }
    out.end_section();
  }
  if (c.summary.recorded) {
    encode_summary(out, c.summary);
  }
  if (!c.intervals.empty()) {
    out.begin_section(static_cast<std::uint32_t>(format::SectionKind::intervals));
    out.put_varint(c.intervals.size());
    std::uint64_t previous_end = 0;
    for (const CaptureInterval& v : c.intervals) {
      if (v.end_ns < previous_end) {
        throw Error("internal error: intervals are not in time order");
      }
      format::encode_interval(out, format::IntervalFields{v.end_ns - previous_end, v.toolkit_bytes,
                                                          static_cast<std::uint32_t>(v.changes.size())});
      std::uint32_t previous_stack = 0;
      for (const IntervalChange& change : v.changes) {
        format::encode_interval_change(out, change.stack - previous_stack,
                                       format::IntervalChangeFields{change.alloc_count, change.alloc_bytes,
                                                                    change.free_count, change.freed_bytes});
        previous_stack = change.stack;
      }
      previous_end = v.end_ns;
    }
    out.end_section();
  }
  if (p.exit) {
    format::encode_exit(out, format::ExitFields{p.exit->status, p.exit->signal});
  }
  out.put_end();
  if (out.failed()) {
    throw IoError("out of memory while encoding a capture");
  }
  return {out.data(), out.data() + out.size()};
}

namespace {

// Writes `bytes` to `file`, which exists and is not a regular file (a device or FIFO) and is
// written in place; a failure names `shown`, the path the user gave.
void write_in_place(const std::string& file, const std::string& shown, std::span<const unsigned char> bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  if (!out) {
    throw IoError(fmt::format("{}: cannot write: {}", shown, std::strerror(errno)));
  }
}

[[noreturn]] void write_error(const std::string& path, int error) {
  throw IoError(fmt::format("{}: cannot write: {}", path, std::strerror(error)));
}

}  // namespace

void write_file_atomically(const std::string& requested, std::span<const unsigned char> bytes, unsigned new_mode) {
  namespace platform = detail::platform;
  std::error_code fs_error;
  std::filesystem::file_status status = std::filesystem::status(requested, fs_error);
  // Devices, pipes and sockets (/dev/null, /dev/stdout, a FIFO) are written in place: renaming
  // a temporary file over one would replace it with a regular file.
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    write_in_place(requested, requested, bytes);
    return;
  }
  // A symbolic link the user names keeps pointing where it did: the file it names is
  // replaced, not the link.
  std::string path = requested;
  if (std::filesystem::is_symlink(std::filesystem::symlink_status(requested, fs_error))) {
    std::filesystem::path target = std::filesystem::weakly_canonical(requested, fs_error);
    if (!fs_error) {
      path = target.string();
    }
  }
  // The temporary file has a name nobody can predict and is created new: a symbolic link
  // prepared at a predictable name (PATH.tmp.PID) would otherwise be written through.
  char suffix[17];
  platform::random_name(suffix);
  std::string temporary = fmt::format("{}.tmp.{}", path, suffix);
  int fd = platform::create_new_file(temporary.c_str(), new_mode);
  if (fd < 0) {
    write_error(path, -fd);
  }
  int rc = platform::write_all(fd, bytes.data(), bytes.size());
  // A file that is replaced keeps its permission bits: the user chose them.
  if (rc == 0 && std::filesystem::is_regular_file(status)) {
    rc = platform::change_mode(fd, static_cast<unsigned>(status.permissions()) & 07777U);
  }
  int close_rc = platform::close_file(fd);
  if (rc == 0) {
    rc = close_rc;
  }
  if (rc == 0) {
    rc = platform::rename_file(temporary.c_str(), path.c_str());
  }
  if (rc != 0) {
    platform::remove_file(temporary.c_str());
    write_error(path, -rc);
  }
}

void write_capture(const Capture& capture, const std::string& path) {
  std::vector<unsigned char> bytes = encode_capture(capture);
  write_file_atomically(path, bytes, capture_file_mode);
}

}  // namespace measure
