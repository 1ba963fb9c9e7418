// Decoding captures. Every read is bounds-checked and every count is checked against the
// bytes that remain before anything is allocated, so a corrupt or hostile file yields one
// FormatError and bounded memory, never a crash or a partial capture.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "format/byte_buffer.h"
#include "format/capture.h"
#include "format/capture_format.h"
#include "format/sections.h"
#include "support/error.h"

namespace measure {
namespace {

std::string_view section_name(std::uint32_t kind) noexcept {
  switch (static_cast<format::SectionKind>(kind)) {
    case format::SectionKind::program:
      return "program";
    case format::SectionKind::modules:
      return "modules";
    case format::SectionKind::stacks:
      return "stacks";
    case format::SectionKind::sites:
      return "sites";
    case format::SectionKind::totals:
      return "totals";
    case format::SectionKind::diagnostics:
      return "diagnostics";
    case format::SectionKind::scopes:
      return "scopes";
    case format::SectionKind::exit:
      return "exit";
    case format::SectionKind::symbols:
      return "symbols";
    case format::SectionKind::timeline:
      return "timeline";
    case format::SectionKind::module_symbols:
      return "module symbols";
    case format::SectionKind::summary:
      return "summary";
    case format::SectionKind::intervals:
      return "intervals";
    case format::SectionKind::end:
      return "end";
  }
  return "unknown";
}

class Cursor {
 public:
  Cursor(const unsigned char* begin, const unsigned char* end, const std::string& source, std::string_view section)
      : m_p(begin), m_end(end), m_source(source), m_section(section) {}

  [[noreturn]] void corrupt(std::string_view what) const {
    throw FormatError(fmt::format("{}: corrupt capture ({} in the {} section)", m_source, what, m_section));
  }

  std::uint64_t varint() {
    std::uint64_t value = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (m_p == m_end) {
        corrupt("a number runs past the end");
      }
      unsigned char byte = *m_p++;
      if (shift == 63 && byte > 1) {
        corrupt("a number is too large");
      }
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        return value;
      }
    }
    corrupt("a number is too long");
  }
  std::int64_t signed_varint() {
    std::uint64_t v = varint();
    return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
  }
  std::uint32_t u32(std::string_view what) {
    std::uint64_t v = varint();
    if (v > UINT32_MAX) {
      corrupt(fmt::format("{} is out of range", what));
    }
    return static_cast<std::uint32_t>(v);
  }
  /// A count of entries that each take at least `min_entry_bytes` bytes.
  std::size_t count(std::size_t min_entry_bytes, std::string_view what) {
    std::uint64_t n = varint();
    if (n > remaining() / (min_entry_bytes == 0 ? 1 : min_entry_bytes)) {
      corrupt(fmt::format("the number of {} exceeds the section", what));
    }
    return static_cast<std::size_t>(n);
  }
  std::string bytes(std::size_t n) {
    if (n > remaining()) {
      corrupt("a string runs past the end");
    }
    std::string s(reinterpret_cast<const char*>(m_p), n);
    m_p += n;
    return s;
  }
  std::string string() { return bytes(count(1, "string bytes")); }
  /// A file path: a string without NUL bytes (no path holds one; writers stop at it).
  std::string path() {
    std::string s = string();
    if (s.find('\0') != std::string::npos) {
      corrupt("a path with a NUL byte");
    }
    return s;
  }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(m_end - m_p); }
  void expect_end() const {
    if (m_p != m_end) {
      corrupt("unexpected bytes at its end");
    }
  }

 private:
  const unsigned char* m_p;
  const unsigned char* m_end;
  const std::string& m_source;
  std::string_view m_section;
};

Metrics read_counters(Cursor& in) {
  Metrics m;
  m.alloc_count = in.varint();
  m.alloc_bytes = in.varint();
  m.free_count = in.varint();
  m.freed_bytes = in.varint();
  m.temporary_count = in.varint();
  m.peak_bytes = in.varint();
  if (m.free_count > m.alloc_count || m.freed_bytes > m.alloc_bytes) {
    in.corrupt("more frees than allocations");
  }
  m.live_count = m.alloc_count - m.free_count;
  m.live_bytes = m.alloc_bytes - m.freed_bytes;
  return m;
}

void read_program(Cursor& in, Program& p) {
  p.executable = in.path();
  // Each argument ends with a NUL, as in /proc/PID/cmdline (a cut-off last one may not).
  std::string args = in.string();
  for (std::size_t start = 0; start < args.size();) {
    std::size_t end = args.find('\0', start);
    if (end == std::string::npos) {
      end = args.size();
    }
    p.arguments.push_back(args.substr(start, end - start));
    start = end + 1;
  }
  p.pid = in.varint();
  p.parent_pid = in.varint();
  std::uint64_t mode = in.varint();
  if (mode > 3) {
    in.corrupt("unknown mode");
  }
  p.mode = static_cast<CaptureMode>(mode);
  p.depth = in.u32("depth");
  p.sample_interval = in.varint();
  p.start_time_ns = in.varint();
  p.end_time_ns = in.varint();
  p.duration_ns = in.varint();
  p.flags = in.u32("flags");
}

// The counts below bound each list by the smallest encoding of one entry (every field one
// byte: an empty string is its length 0), so memory stays proportional to the file; a bound
// above that minimum would reject what the writer writes.
void read_modules(Cursor& in, std::vector<Module>& modules) {
  std::size_t n = in.count(6, "modules");
  modules.resize(n);
  for (Module& m : modules) {
    m.path = in.path();
    m.build_id = in.bytes(in.count(1, "build-id bytes"));
    m.load_bias = in.varint();
    m.first_generation = in.u32("generation");
    std::uint64_t end = in.varint();
    if (end != 0) {
      if (end - 1 > UINT32_MAX) {
        in.corrupt("generation out of range");
      }
      m.end_generation = static_cast<std::uint32_t>(end - 1);
    }
    m.segments.resize(in.count(4, "segments"));
    for (Segment& s : m.segments) {
      s.vaddr = in.varint();
      s.memsz = in.varint();
      s.offset = in.varint();
      s.flags = in.u32("segment flags");
    }
  }
}

void read_stacks(Cursor& in, std::vector<Stack>& stacks) {
  std::size_t n = in.count(4, "stacks");
  stacks.resize(n);
  std::uint64_t id = 0;
  std::vector<std::uint64_t> frames;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t delta = in.varint();
    id = i == 0 ? delta : id + delta;
    if (id != i) {
      in.corrupt("stack ids out of order");
    }
    Stack& s = stacks[i];
    s.generation = in.u32("generation");
    s.flags = in.u32("stack flags");
    std::size_t depth = in.count(1, "frames");
    if (depth > 1024) {
      in.corrupt("a stack deeper than 1024 frames");
    }
    frames.resize(depth);
    std::uint64_t previous = 0;
    for (std::uint64_t& frame : frames) {
      frame = previous + static_cast<std::uint64_t>(in.signed_varint());
      previous = frame;
    }
    s.frames.assign(frames.begin(), frames.end());
  }
}

void read_sites(Cursor& in, std::vector<Site>& sites, std::size_t stack_count) {
  std::size_t n = in.count(7, "sites");
  sites.resize(n);
  std::uint64_t id = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t delta = in.varint();
    if (i > 0 && delta == 0) {
      in.corrupt("duplicate site");
    }
    id = i == 0 ? delta : id + delta;
    if (id >= stack_count) {
      in.corrupt("a site refers to a missing stack");
    }
    sites[i].stack = static_cast<std::uint32_t>(id);
    sites[i].metrics = read_counters(in);
  }
}

void read_totals(Cursor& in, Capture& c) {
  if (in.varint() != 0) {
    in.corrupt("bad totals marker");
  }
  c.totals = read_counters(in);
  std::uint64_t live_count = in.varint();
  std::uint64_t live_bytes = in.varint();
  if (live_count != c.totals.live_count || live_bytes != c.totals.live_bytes) {
    in.corrupt("live totals disagree with the counters");
  }
  c.toolkit_bytes = in.varint();
  c.toolkit_peak_bytes = in.varint();
  c.resident_bytes = in.varint();
  c.threads = in.varint();
}

void read_diagnostics(Cursor& in, Capture& c) {
  c.diagnostics.resize(in.count(2, "diagnostics"));
  for (Diagnostic& d : c.diagnostics) {
    d.name = in.string();
    d.value = in.varint();
  }
  c.warnings.resize(in.count(1, "warnings"));
  for (std::string& w : c.warnings) {
    w = in.string();
  }
}

void read_scopes(Cursor& in, std::vector<ScopeRecord>& scopes, std::size_t stack_count) {
  scopes.resize(in.count(10, "scopes"));
  for (ScopeRecord& s : scopes) {
    s.name = in.string();
    s.entries = in.varint();
    s.alloc_count = in.varint();
    s.alloc_bytes = in.varint();
    s.free_count = in.varint();
    s.freed_bytes = in.varint();
    s.net_bytes = in.signed_varint();
    s.peak_max = in.varint();
    s.peak_sum = in.varint();
    s.sites.resize(in.count(5, "scope sites"));
    std::uint64_t id = 0;
    for (std::size_t i = 0; i < s.sites.size(); ++i) {
      std::uint64_t delta = in.varint();
      if (i > 0 && delta == 0) {
        in.corrupt("duplicate scope site");
      }
      id = i == 0 ? delta : id + delta;
      if (id >= stack_count) {
        in.corrupt("a scope site refers to a missing stack");
      }
      ScopeSiteCounts& site = s.sites[i];
      site.stack = static_cast<std::uint32_t>(id);
      site.alloc_count = in.varint();
      site.alloc_bytes = in.varint();
      site.free_count = in.varint();
      site.freed_bytes = in.varint();
    }
  }
}

std::uint32_t read_string_index(Cursor& in, const CaptureSymbols& symbols) {
  std::uint64_t index = in.varint();
  if (index > symbols.strings.size()) {
    in.corrupt("a string index past the string table");
  }
  return static_cast<std::uint32_t>(index);
}

void read_frames(Cursor& in, const CaptureSymbols& symbols, std::vector<SymbolFrame>& frames) {
  frames.resize(in.count(3, "symbol frames"));
  for (SymbolFrame& f : frames) {
    f.function = read_string_index(in, symbols);
    f.file = read_string_index(in, symbols);
    f.line = in.u32("line");
  }
}

void read_symbols(Cursor& in, CaptureSymbols& symbols) {
  symbols.strings.resize(in.count(1, "symbol strings"));
  for (std::string& s : symbols.strings) {
    s = in.string();
  }
  symbols.addresses.resize(in.count(4, "symbol addresses"));
  std::uint64_t address = 0;
  for (std::size_t i = 0; i < symbols.addresses.size(); ++i) {
    std::uint64_t delta = in.varint();
    if (i > 0 && (delta == 0 || address + delta < address)) {
      in.corrupt("addresses out of order");
    }
    address += delta;
    AddressSymbols& a = symbols.addresses[i];
    a.address = address;
    a.module = read_string_index(in, symbols);
    a.offset = in.varint();
    read_frames(in, symbols, a.frames);
  }
}

void read_module_symbols(Cursor& in, CaptureSymbols& symbols, std::size_t module_count) {
  symbols.modules.resize(in.count(2, "symbolized modules"));
  std::uint64_t module = 0;
  for (std::size_t i = 0; i < symbols.modules.size(); ++i) {
    std::uint64_t delta = in.varint();
    if (i > 0 && delta == 0) {
      in.corrupt("modules out of order");
    }
    module += delta;
    if (module >= module_count) {
      in.corrupt("a module index past the modules section");
    }
    ModuleSymbols& m = symbols.modules[i];
    m.module = static_cast<std::uint32_t>(module);
    m.offsets.resize(in.count(2, "symbolized offsets"));
    std::uint64_t offset = 0;
    for (std::size_t k = 0; k < m.offsets.size(); ++k) {
      std::uint64_t offset_delta = in.varint();
      if (k > 0 && (offset_delta == 0 || offset + offset_delta < offset)) {
        in.corrupt("offsets out of order");
      }
      offset += offset_delta;
      m.offsets[k].offset = offset;
      read_frames(in, symbols, m.offsets[k].frames);
    }
  }
}

void read_timeline(Cursor& in, CaptureTimeline& t) {
  t.interval_ns = in.varint();
  t.peak_bytes = in.varint();
  t.peak_after_ns = in.varint();
  t.peak_before_ns = in.varint();
  if (t.peak_after_ns > t.peak_before_ns) {
    in.corrupt("the timeline's peak ends before it starts");
  }
  t.samples.resize(in.count(3, "timeline points"));
  std::uint64_t time = 0;
  for (TimelineSample& s : t.samples) {
    std::uint64_t delta = in.varint();
    if (time + delta < time) {
      in.corrupt("timeline times overflow");
    }
    time += delta;
    s.time_ns = time;
    s.live_bytes = in.varint();
    s.resident_bytes = in.varint();
  }
}

void read_thread_counts(Cursor& in, ThreadCounts& t) {
  t.alloc_count = in.varint();
  t.alloc_bytes = in.varint();
  t.free_count = in.varint();
  t.freed_bytes = in.varint();
}

void read_summary(Cursor& in, CaptureSummary& s, std::size_t stack_count) {
  s.recorded = true;
  s.sizes.resize(in.count(2, "size classes"));
  if (s.sizes.size() > 65) {
    in.corrupt("more than 65 size classes");
  }
  for (SizeClassCounts& c : s.sizes) {
    c.count = in.varint();
    c.bytes = in.varint();
  }
  s.temporary_bytes = in.varint();
  s.inherited_count = in.varint();
  s.inherited_bytes = in.varint();
  s.largest.resize(in.count(3, "largest allocations"));
  for (LargestAllocation& a : s.largest) {
    a.size = in.varint();
    a.time_ns = in.varint();
    a.stack = in.u32("stack");
    if (a.stack >= stack_count && a.stack != 0) {
      in.corrupt("a largest allocation names a stack that does not exist");
    }
  }
  s.threads.resize(in.count(7, "threads"));
  for (ThreadCounts& t : s.threads) {
    t.os_thread_id = in.varint();
    t.name = in.string();
    t.running = (in.varint() & format::summary_thread_running) != 0;
    read_thread_counts(in, t);
  }
  s.other_threads = in.varint();
  read_thread_counts(in, s.other);
}

void read_intervals(Cursor& in, std::vector<CaptureInterval>& intervals, std::size_t stack_count) {
  intervals.resize(in.count(3, "intervals"));
  std::uint64_t time = 0;
  for (CaptureInterval& v : intervals) {
    std::uint64_t delta = in.varint();
    if (time + delta < time) {
      in.corrupt("interval times overflow");
    }
    time += delta;
    v.end_ns = time;
    v.toolkit_bytes = in.varint();
    std::size_t n = in.count(5, "interval changes");
    std::uint64_t stack = 0;
    for (std::size_t k = 0; k < n; ++k) {
      IntervalChange c;
      std::uint64_t stack_delta = in.varint();
      if (k > 0 && stack_delta == 0) {
        in.corrupt("interval changes out of order");
      }
      stack += stack_delta;
      if (stack >= stack_count) {
        in.corrupt("an interval names a stack that does not exist");
      }
      c.stack = static_cast<std::uint32_t>(stack);
      c.alloc_count = in.varint();
      c.alloc_bytes = in.varint();
      c.free_count = in.varint();
      c.freed_bytes = in.varint();
      v.changes.push_back(c);
    }
    v.changes.shrink_to_fit();
  }
}

std::uint32_t read_le32(const unsigned char* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

std::uint64_t read_le64(const unsigned char* p) noexcept {
  return static_cast<std::uint64_t>(read_le32(p)) | static_cast<std::uint64_t>(read_le32(p + 4)) << 32;
}

}  // namespace

Capture parse_capture(std::span<const unsigned char> bytes, const std::string& source) {
  if (bytes.empty()) {
    throw FormatError(fmt::format("{}: empty file, not a measure capture", source));
  }
  if (bytes.size() < format::header_size || std::memcmp(bytes.data(), format::magic, sizeof format::magic) != 0) {
    throw FormatError(fmt::format("{}: not a measure capture (unknown file signature)", source));
  }
  std::uint32_t version = read_le32(bytes.data() + 8);
  if (version == 0) {
    throw FormatError(fmt::format("{}: corrupt capture (format version 0)", source));
  }
  if (version > format::version) {
    throw FormatError(
        fmt::format("{}: capture format version {} is newer than this measure reads (version {}); "
                    "upgrade measure",
                    source, version, format::version));
  }
  if (read_le32(bytes.data() + 12) != 0) {
    throw FormatError(fmt::format("{}: corrupt capture (unknown header flags)", source));
  }
  Capture c;
  std::uint32_t seen = 0;  // bit per known section kind
  bool symbols_seen = false;
  bool module_symbols_seen = false;
  bool timeline_seen = false;
  std::size_t sections = 0;
  std::size_t pos = format::header_size;
  for (;;) {
    if (bytes.size() - pos < format::section_header_size) {
      throw FormatError(
          fmt::format("{}: truncated capture (ends after {} bytes, before its end marker)", source, bytes.size()));
    }
    const unsigned char* h = bytes.data() + pos;
    std::uint32_t kind = read_le32(h);
    std::uint32_t crc = read_le32(h + 4);
    std::uint64_t length = read_le64(h + 8);
    pos += format::section_header_size;
    if (length > bytes.size() - pos) {
      throw FormatError(fmt::format("{}: truncated capture (the {} section needs {} bytes, {} remain)", source,
                                    section_name(kind), length, bytes.size() - pos));
    }
    const unsigned char* payload = bytes.data() + pos;
    if (format::section_crc(h, payload, length) != crc) {
      throw FormatError(
          fmt::format("{}: corrupt capture (checksum mismatch in the {} section)", source, section_name(kind)));
    }
    pos += length;
    Cursor in(payload, payload + length, source, section_name(kind));
    if (kind < 32) {
      if ((seen & (1U << kind)) != 0) {
        in.corrupt("repeated section");
      }
      seen |= 1U << kind;
    }
    switch (static_cast<format::SectionKind>(kind)) {
      case format::SectionKind::program:
        read_program(in, c.program);
        break;
      case format::SectionKind::modules:
        read_modules(in, c.modules);
        break;
      case format::SectionKind::stacks:
        read_stacks(in, c.stacks);
        break;
      case format::SectionKind::sites:
        if ((seen & (1U << static_cast<unsigned>(format::SectionKind::stacks))) == 0) {
          in.corrupt("sites before stacks");
        }
        read_sites(in, c.sites, c.stacks.size());
        break;
      case format::SectionKind::totals:
        read_totals(in, c);
        break;
      case format::SectionKind::diagnostics:
        read_diagnostics(in, c);
        break;
      case format::SectionKind::scopes:
        if ((seen & (1U << static_cast<unsigned>(format::SectionKind::stacks))) == 0) {
          in.corrupt("scopes before stacks");
        }
        read_scopes(in, c.scopes, c.stacks.size());
        break;
      case format::SectionKind::symbols:
        if (symbols_seen) {
          in.corrupt("repeated section");
        }
        symbols_seen = true;
        read_symbols(in, c.symbols);
        break;
      case format::SectionKind::module_symbols:
        if (module_symbols_seen) {
          in.corrupt("repeated section");
        }
        if (!symbols_seen || (seen & (1U << static_cast<unsigned>(format::SectionKind::modules))) == 0) {
          in.corrupt("module symbols before the symbols or modules section");
        }
        module_symbols_seen = true;
        read_module_symbols(in, c.symbols, c.modules.size());
        break;
      case format::SectionKind::timeline:
        if (timeline_seen) {
          in.corrupt("repeated section");
        }
        timeline_seen = true;
        read_timeline(in, c.timeline);
        break;
      case format::SectionKind::summary:
        if (c.summary.recorded || (seen & (1U << static_cast<unsigned>(format::SectionKind::stacks))) == 0) {
          in.corrupt("a repeated summary, or a summary before the stacks");
        }
        read_summary(in, c.summary, c.stacks.size());
        break;
      case format::SectionKind::intervals:
        if (!c.intervals.empty() || (seen & (1U << static_cast<unsigned>(format::SectionKind::stacks))) == 0) {
          in.corrupt("repeated intervals, or intervals before the stacks");
        }
        read_intervals(in, c.intervals, c.stacks.size());
        break;
      case format::SectionKind::exit:
        c.program.exit = ExitInfo{in.signed_varint(), in.u32("signal")};
        break;
      case format::SectionKind::end: {
        if (in.varint() != sections) {
          in.corrupt("wrong section count");
        }
        in.expect_end();
        if (pos != bytes.size()) {
          throw FormatError(fmt::format("{}: corrupt capture ({} unexpected bytes after the end marker)", source,
                                        bytes.size() - pos));
        }
        for (auto required : {format::SectionKind::program, format::SectionKind::modules, format::SectionKind::stacks,
                              format::SectionKind::sites, format::SectionKind::totals}) {
          if ((seen & (1U << static_cast<unsigned>(required))) == 0) {
            throw FormatError(fmt::format("{}: corrupt capture (no {} section)", source,
                                          section_name(static_cast<std::uint32_t>(required))));
          }
        }
        return c;
      }
      default:
        if ((kind & format::optional_section) == 0) {
          in.corrupt(fmt::format("unknown required section kind {}", kind));
        }
        ++sections;  // a later minor addition this reader does not know: skip it
        continue;
    }
    in.expect_end();
    ++sections;
  }
}

std::vector<unsigned char> read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw IoError(fmt::format("{}: cannot read: is a directory", path));
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw IoError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  }
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) {
    throw IoError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  }
  return bytes;
}

Capture read_capture(const std::string& path) {
  std::vector<unsigned char> bytes = read_file(path);
  return parse_capture(bytes, path);
}

}  // namespace measure
