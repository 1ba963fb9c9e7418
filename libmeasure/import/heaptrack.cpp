// heaptrack's interpreted data format, as heaptrack_interpret writes it and heaptrack_print
// reads it: one record per line, a letter and hex fields separated by spaces.
//
//   v HEAPTRACK_VERSION FILE_VERSION     first line (file format 3: strings carry a hex length)
//   X COMMAND LINE                       I PAGE_SIZE PAGES      c MILLISECONDS     R RSS_PAGES
//   s STRING                             a string; the n-th one has index n (0: none)
//   i ADDRESS MODULE [FUNCTION [FILE LINE [FUNCTION FILE LINE]...]]
//                                        an address; its frames innermost first, then the
//                                        functions it was inlined into
//   t IP PARENT                          a call-stack node: the n-th one is trace n (0: root)
//   a SIZE TRACE                         an allocation record: the n-th one has index n - 1
//   + RECORD    - RECORD                 an allocation, a free (in one global order)
//   A                                    attached to a running process   # comment
//
// Each event is applied as it is read, so memory is proportional to the distinct stacks and
// records, not to the events.
#include "import/heaptrack.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "format/capture_format.h"
#include "import/compressed_input.h"
#include "support/error.h"

namespace measure {
namespace {

constexpr std::uint32_t newest_file_version = 3;
constexpr std::size_t max_stack_depth = 1024;  // the capture format's limit

// Bounds no recording heaptrack writes comes near, so that a hostile file (a few kilobytes of
// zstd that decompress to gigabytes) is refused instead of exhausting memory. The longest
// lines are symbol names, a few kilobytes even for deep templates.
constexpr std::size_t max_line_bytes = std::size_t{16} << 20;
// What the importer keeps (strings, addresses, stack nodes, allocation records) comes from the
// recording's definition lines, which hold distinct hex numbers and names and compress a few
// times at most (a recording of `cmake --help-full`: 196 KB of them in 53 KB of zstd, in a
// 461 KB file); kept, they take at most about three times their text. 64 times the file's
// size covers that many times over; the floor lets small files decompress without a thought.
constexpr std::uint64_t memory_per_file_byte = 64;
constexpr std::uint64_t min_memory_budget = std::uint64_t{256} << 20;

// The fields of one line after its letter.
class Fields {
 public:
  explicit Fields(std::string_view rest) : m_rest(rest) {}

  /// The next hex field; nothing at the end of the line or for a malformed field.
  std::optional<std::uint64_t> hex() {
    if (m_rest.empty()) {
      return std::nullopt;
    }
    std::uint64_t value = 0;
    std::size_t i = 0;
    for (; i < m_rest.size() && m_rest[i] != ' '; ++i) {
      char c = m_rest[i];
      unsigned digit = c >= '0' && c <= '9'   ? static_cast<unsigned>(c - '0')
                       : c >= 'a' && c <= 'f' ? static_cast<unsigned>(c - 'a' + 10)
                                              : 16U;
      if (digit == 16 || value >> 60 != 0) {
        return std::nullopt;
      }
      value = value << 4 | digit;
    }
    if (i == 0) {
      return std::nullopt;
    }
    m_rest.remove_prefix(std::min(i + 1, m_rest.size()));
    return value;
  }
  /// A string of file format 3: its hex length, a space, then exactly that many bytes.
  std::optional<std::string_view> sized_string() {
    std::optional<std::uint64_t> size = hex();
    if (!size || *size > m_rest.size()) {
      return std::nullopt;
    }
    std::string_view s = m_rest.substr(0, *size);
    m_rest.remove_prefix(std::min<std::size_t>(*size + 1, m_rest.size()));
    return s;
  }
  std::string_view rest() const noexcept { return m_rest; }

 private:
  std::string_view m_rest;
};

class Importer {
 public:
  Importer(const std::string& path, std::uint64_t memory_budget) : m_path(path), m_budget(memory_budget) {}

  void line(std::string_view text);
  Capture finish(bool truncated);
  /// The memory the recording's tables hold so far, in bytes.
  std::uint64_t memory() const noexcept;

 private:
  struct Ip {
    std::uint64_t address;
    std::uint32_t module;
    std::uint32_t first_frame;  // into m_frames
    std::uint32_t frame_count;
  };
  struct Trace {
    std::uint32_t ip;
    std::uint32_t parent;
  };
  struct Record {
    std::uint64_t size;
    std::uint32_t site;
  };
  struct SiteState {
    std::uint32_t trace = 0;
    Metrics metrics;
    std::uint64_t mark = 0;  // the peak mark its peak_bytes was taken at
  };

  [[noreturn]] void corrupt(std::string_view what) const {
    throw FormatError(fmt::format("{}: corrupt heaptrack data (line {}: {})", m_path, m_line, what));
  }
  std::uint64_t field(Fields& f, std::string_view what) {
    std::optional<std::uint64_t> v = f.hex();
    if (!v) {
      corrupt(fmt::format("missing or malformed {}", what));
    }
    return *v;
  }
  std::uint32_t index(Fields& f, std::string_view what, std::size_t count) {
    std::uint64_t v = field(f, what);
    if (v > count) {
      corrupt(fmt::format("{} {:#x} refers to nothing", what, v));
    }
    return static_cast<std::uint32_t>(v);
  }

  void version(Fields& f);
  void instruction_pointer(Fields& f);
  void trace(Fields& f);
  void record(Fields& f);
  void allocate(Fields& f);
  void deallocate(Fields& f);
  // Brings a site's peak contribution up to date before its live bytes change.
  void settle(SiteState& s) noexcept {
    if (s.mark != m_peak_mark) {
      s.metrics.peak_bytes = s.metrics.alloc_bytes - s.metrics.freed_bytes;
      s.mark = m_peak_mark;
    }
  }
  std::vector<std::uint64_t> stack_of(std::uint32_t trace, bool& truncated) const;

  const std::string& m_path;
  std::uint64_t m_budget;
  std::uint64_t m_string_bytes = 0;  // held by m_strings beyond their own objects
  std::uint64_t m_line = 0;
  std::optional<std::uint32_t> m_file_version;
  std::uint64_t m_heaptrack_version = 0;
  std::string m_command;
  std::vector<std::string> m_strings;
  std::vector<Ip> m_ips;
  std::vector<SymbolFrame> m_frames;
  std::vector<Trace> m_traces;
  std::vector<Record> m_records;
  std::vector<std::uint32_t> m_site_of_trace{0};  // site index + 1; 0: none yet
  std::vector<SiteState> m_sites;
  std::uint64_t m_live = 0;
  std::uint64_t m_peak = 0;
  std::uint64_t m_peak_mark = 0;               // advances whenever a new peak is reached
  std::optional<std::uint64_t> m_last_record;  // allocated last, with no free since
  std::uint64_t m_milliseconds = 0;
  std::uint64_t m_page_size = 4096;
  std::uint64_t m_rss_pages = 0;
  bool m_attached = false;
  bool m_complete = false;  // heaptrack_interpret's closing summary was seen
  std::uint64_t m_unknown_lines = 0;
};

void Importer::line(std::string_view text) {
  ++m_line;
  if (text.empty()) {
    return;
  }
  char kind = text[0];
  Fields f(text.size() > 2 ? text.substr(2) : std::string_view());
  if (!m_file_version && kind != 'v') {
    throw FormatError(fmt::format("{}: not a heaptrack data file (it does not start with a version line)", m_path));
  }
  switch (kind) {
    case 'v':
      version(f);
      break;
    case 's':
      m_strings.emplace_back(*m_file_version >= 3 ? f.sized_string().value_or(std::string_view()) : f.rest());
      m_string_bytes += m_strings.back().capacity();
      break;
    case 'i':
      instruction_pointer(f);
      break;
    case 't':
      trace(f);
      break;
    case 'a':
      record(f);
      break;
    case '+':
      allocate(f);
      break;
    case '-':
      deallocate(f);
      break;
    case 'c':
      m_milliseconds = field(f, "time stamp");
      break;
    case 'R':
      m_rss_pages = field(f, "RSS");
      break;
    case 'I':
      m_page_size = field(f, "page size");
      break;
    case 'X':
      m_command = f.rest();
      break;
    case 'A':
      m_attached = true;
      break;
    case '#':
      m_complete = m_complete || text.starts_with("# strings:");
      break;
    case 'S':
      break;  // leak suppressions embedded by the program: a viewer setting, not data
    case 'm':
    case 'x':
      throw FormatError(
          fmt::format("{}: a raw heaptrack trace, not yet interpreted; import the file heaptrack writes after the run "
                      "(heaptrack_interpret < RAW | zstd > FILE.zst makes one)",
                      m_path));
    default:
      ++m_unknown_lines;  // a newer heaptrack's record: heaptrack_print skips them too
  }
  // Checked now and then: a line adds at most its length to the tables.
  if ((m_line & 4095) == 0 && memory() > m_budget) {
    throw FormatError(fmt::format(
        "{}: refused: importing it would take more than {} MiB of memory, far more than a recording of its size "
        "needs (line {}; corrupt, or made to exhaust memory)",
        m_path, m_budget >> 20, m_line));
  }
}

std::uint64_t Importer::memory() const noexcept {
  return m_string_bytes + m_strings.capacity() * sizeof(std::string) + m_ips.capacity() * sizeof(Ip) +
         m_frames.capacity() * sizeof(SymbolFrame) + m_traces.capacity() * sizeof(Trace) +
         m_records.capacity() * sizeof(Record) + m_site_of_trace.capacity() * sizeof(std::uint32_t) +
         m_sites.capacity() * sizeof(SiteState);
}

void Importer::version(Fields& f) {
  if (m_file_version) {
    corrupt("a second version line");
  }
  m_heaptrack_version = field(f, "heaptrack version");
  // heaptrack 1.0 wrote its own version where later ones write the file format (1).
  std::uint64_t file_version = f.hex().value_or(m_heaptrack_version == 0x010200 ? 1 : 0);
  if (file_version > newest_file_version) {
    throw FormatError(fmt::format("{}: heaptrack file format version {} is newer than this measure reads (version {})",
                                  m_path, file_version, newest_file_version));
  }
  if (file_version == 0) {
    throw FormatError(
        fmt::format("{}: heaptrack file format version 0 (heaptrack 1.0 or older) is not supported", m_path));
  }
  m_file_version = static_cast<std::uint32_t>(file_version);
}

void Importer::instruction_pointer(Fields& f) {
  Ip ip{field(f, "address"), index(f, "module", m_strings.size()), static_cast<std::uint32_t>(m_frames.size()), 0};
  // FUNCTION alone, then (FILE LINE) for it, then (FUNCTION FILE LINE) per enclosing frame.
  if (std::optional<std::uint64_t> function = f.hex()) {
    if (*function > m_strings.size()) {
      corrupt("a function name refers to nothing");
    }
    SymbolFrame frame{static_cast<std::uint32_t>(*function), 0, 0};
    if (!f.rest().empty()) {
      frame.file = index(f, "file", m_strings.size());
      frame.line = static_cast<std::uint32_t>(field(f, "line"));
    }
    m_frames.push_back(frame);
    while (!f.rest().empty()) {
      SymbolFrame outer{index(f, "function", m_strings.size()), index(f, "file", m_strings.size()), 0};
      outer.line = static_cast<std::uint32_t>(field(f, "line"));
      m_frames.push_back(outer);
    }
  }
  ip.frame_count = static_cast<std::uint32_t>(m_frames.size() - ip.first_frame);
  m_ips.push_back(ip);
}

void Importer::trace(Fields& f) {
  std::uint32_t ip = index(f, "address index", m_ips.size());
  // A parent is always an earlier node, so stacks cannot loop.
  std::uint32_t parent = index(f, "parent", m_traces.size());
  m_traces.push_back({ip, parent});
  m_site_of_trace.push_back(0);
}

void Importer::record(Fields& f) {
  std::uint64_t size = field(f, "size");
  std::uint32_t trace = index(f, "trace", m_traces.size());
  std::uint32_t& site = m_site_of_trace[trace];
  if (site == 0) {
    m_sites.push_back(SiteState{trace, {}, m_peak_mark});
    site = static_cast<std::uint32_t>(m_sites.size());
  }
  m_records.push_back({size, site - 1});
}

void Importer::allocate(Fields& f) {
  std::uint64_t r = field(f, "allocation record");
  if (r >= m_records.size()) {
    corrupt(fmt::format("allocation record {:#x} refers to nothing", r));
  }
  const Record& record = m_records[r];
  SiteState& s = m_sites[record.site];
  settle(s);
  s.metrics.alloc_count += 1;
  s.metrics.alloc_bytes += record.size;
  m_live += record.size;
  if (m_live > m_peak) {
    m_peak = m_live;
    ++m_peak_mark;
    settle(s);
  }
  m_last_record = r;
}

void Importer::deallocate(Fields& f) {
  std::uint64_t r = field(f, "allocation record");
  if (r >= m_records.size()) {
    corrupt(fmt::format("allocation record {:#x} refers to nothing", r));
  }
  const Record& record = m_records[r];
  SiteState& s = m_sites[record.site];
  if (s.metrics.free_count >= s.metrics.alloc_count || s.metrics.freed_bytes + record.size > s.metrics.alloc_bytes) {
    corrupt("a free of more than was allocated");
  }
  settle(s);
  s.metrics.free_count += 1;
  s.metrics.freed_bytes += record.size;
  m_live -= record.size;
  // heaptrack's definition: freed right after an allocation of the same record (size and
  // stack), in the one global order of events. heaptrack_print also counts the free of
  // record 0 after any other free (its "last" marker resets to 0); that artifact is left out.
  if (m_last_record == r) {
    s.metrics.temporary_count += 1;
  }
  m_last_record.reset();
}

std::vector<std::uint64_t> Importer::stack_of(std::uint32_t trace, bool& truncated) const {
  std::vector<std::uint64_t> frames;
  for (std::uint32_t t = trace; t != 0; t = m_traces[t - 1].parent) {
    if (frames.size() == max_stack_depth) {
      truncated = true;
      break;
    }
    std::uint32_t ip = m_traces[t - 1].ip;
    frames.push_back(ip == 0 ? 0 : m_ips[ip - 1].address);
  }
  return frames;
}

std::string version_text(std::uint64_t v) {
  return fmt::format("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff);
}

Capture Importer::finish(bool truncated) {
  if (!m_file_version) {
    throw FormatError(truncated ? fmt::format("{}: the heaptrack recording ends before its first complete line", m_path)
                                : fmt::format("{}: not a heaptrack data file (empty)", m_path));
  }
  Capture c;
  Program& p = c.program;
  // Arguments are separated by spaces; no argument holds a NUL byte, so one ends it too.
  for (std::size_t start = 0; start < m_command.size();) {
    std::size_t end = std::min(m_command.find_first_of(std::string_view(" \0", 2), start), m_command.size());
    if (end > start) {
      p.arguments.emplace_back(m_command.substr(start, end - start));
    }
    start = end + 1;
  }
  p.executable = p.arguments.empty() ? std::string() : p.arguments.front();
  p.mode = CaptureMode::exact;
  p.duration_ns = m_milliseconds * 1'000'000;
  bool complete = m_complete && !truncated;
  p.flags = complete ? static_cast<std::uint32_t>(format::program_final) : 0U;

  c.stacks.emplace_back();  // stack 0: allocations without a stack
  for (SiteState& s : m_sites) {
    if (s.metrics.alloc_count == 0) {
      continue;
    }
    if (s.mark != m_peak_mark) {
      s.metrics.peak_bytes = s.metrics.alloc_bytes - s.metrics.freed_bytes;  // unchanged since the peak
    }
    s.metrics.live_count = s.metrics.alloc_count - s.metrics.free_count;
    s.metrics.live_bytes = s.metrics.alloc_bytes - s.metrics.freed_bytes;
    Site site{0, s.metrics};
    if (s.trace != 0) {
      Stack stack;
      bool cut = false;
      stack.frames = stack_of(s.trace, cut);
      stack.flags = cut ? static_cast<std::uint32_t>(stack_truncated) : 0U;
      p.depth = std::max(p.depth, static_cast<std::uint32_t>(stack.frames.size()));
      site.stack = static_cast<std::uint32_t>(c.stacks.size());
      c.stacks.push_back(std::move(stack));
    }
    c.totals += site.metrics;
    c.sites.push_back(site);
  }
  // The stackless site (trace 0) may have been seen after others.
  std::sort(c.sites.begin(), c.sites.end(), [](const Site& a, const Site& b) { return a.stack < b.stack; });
  c.totals.peak_bytes = m_peak;
  c.resident_bytes = m_rss_pages * m_page_size;

  // Symbols for every address, and the modules they name. heaptrack does not record where
  // modules were loaded, so the offset of an address in its module is unknown: 0. Code it
  // could not name is then one row per module that matches across recordings, as in
  // heaptrack's own diff (absolute addresses would differ from run to run).
  c.symbols.strings = std::move(m_strings);
  std::vector<bool> is_module(c.symbols.strings.size() + 1, false);
  for (const Ip& ip : m_ips) {
    AddressSymbols a{ip.address, ip.module, 0, {}};
    a.frames.assign(m_frames.begin() + ip.first_frame, m_frames.begin() + ip.first_frame + ip.frame_count);
    c.symbols.addresses.push_back(std::move(a));
    is_module[ip.module] = true;
  }
  std::sort(c.symbols.addresses.begin(), c.symbols.addresses.end(),
            [](const AddressSymbols& a, const AddressSymbols& b) { return a.address < b.address; });
  auto same = [](const AddressSymbols& a, const AddressSymbols& b) { return a.address == b.address; };
  c.symbols.addresses.erase(std::unique(c.symbols.addresses.begin(), c.symbols.addresses.end(), same),
                            c.symbols.addresses.end());
  for (std::uint32_t m = 1; m < is_module.size(); ++m) {
    if (is_module[m]) {
      // A path ends at a NUL byte (no file name holds one, and captures refuse it).
      const std::string& name = c.symbols.string(m);
      c.modules.push_back(Module{name.substr(0, name.find('\0')), {}, 0, 0, std::nullopt, {}});
    }
  }

  c.warnings.push_back(fmt::format(
      "imported from a heaptrack {} recording: no pids, threads or exit status; temporary = freed right after "
      "an allocation of the same size and stack (heaptrack's definition, see docs/integrations.md)",
      version_text(m_heaptrack_version)));
  if (m_attached) {
    c.warnings.push_back("heaptrack attached to a running process: allocations made before it attached are missing");
  }
  if (!complete) {
    c.warnings.push_back(
        "the heaptrack recording is incomplete (cut off while it was written): the counts stop at its last "
        "complete line");
  }
  if (m_unknown_lines != 0) {
    c.warnings.push_back(fmt::format("{} lines of a kind this measure does not know were skipped", m_unknown_lines));
  }
  return c;
}

}  // namespace

Capture import_heaptrack(const std::string& path, const ImportProgress& progress) {
  detail::CompressedInput input(path);
  Importer importer(path, std::max(min_memory_budget, input.size() * memory_per_file_byte));
  std::string partial;  // a line split across two chunks
  std::uint64_t lines = 0;
  for (std::string_view chunk = input.read(); !chunk.empty(); chunk = input.read()) {
    while (!chunk.empty()) {
      const char* newline = static_cast<const char*>(std::memchr(chunk.data(), '\n', chunk.size()));
      std::size_t length = newline != nullptr ? static_cast<std::size_t>(newline - chunk.data()) : chunk.size();
      if (partial.size() + length > max_line_bytes) {
        throw FormatError(fmt::format("{}: refused: line {} is longer than {} MiB (corrupt, or made to exhaust memory)",
                                      path, lines + 1, max_line_bytes >> 20));
      }
      if (newline == nullptr) {
        partial.append(chunk);
        break;
      }
      ++lines;
      if (partial.empty()) {
        importer.line(chunk.substr(0, length));
      } else {
        partial.append(chunk.substr(0, length));
        importer.line(partial);
        partial.clear();
      }
      chunk.remove_prefix(length + 1);
    }
    if (progress) {
      progress(input.consumed(), input.size());
    }
  }
  // A last line without its newline is complete only if the data is.
  bool truncated = input.truncated() || !partial.empty();
  return importer.finish(truncated);
}

}  // namespace measure
