// The capture format's round-trip property: every capture the writer can be given (any value
// the Capture model allows, including empty strings and vectors, zero and maximal numbers,
// stored symbols of both kinds) reads back identically, and encodes to the same bytes again.
// Captures are generated from fixed seeds, so a failure names a seed that repeats it.
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "format/capture.h"
#include "support/error.h"

using namespace measure;

namespace {

// Picks values that reach the encoder's edges: 0, 1, the largest of each width, the varint
// length boundaries, and random ones of every size.
class Generator {
 public:
  explicit Generator(std::uint64_t seed) : m_random(seed) {}

  std::uint64_t u64() {
    switch (below(8)) {
      case 0:
        return 0;
      case 1:
        return 1;
      case 2:
        return std::numeric_limits<std::uint64_t>::max();
      case 3:
        return (std::uint64_t{1} << (7 * (1 + below(9)))) - below(2);  // a varint length boundary
      case 4:
        return m_random() >> below(64);
      default:
        return below(1000);
    }
  }
  std::uint32_t u32() {
    std::uint64_t v = u64();
    return below(4) == 0 ? std::numeric_limits<std::uint32_t>::max() : static_cast<std::uint32_t>(v);
  }
  std::int64_t i64() {
    switch (below(4)) {
      case 0:
        return std::numeric_limits<std::int64_t>::min();
      case 1:
        return std::numeric_limits<std::int64_t>::max();
      default:
        return static_cast<std::int64_t>(u64());
    }
  }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : m_random() % n; }
  // From 0 to `most`, either end included, `most` itself one time in three.
  std::uint64_t at_most(std::uint64_t most) { return below(3) == 0 || most == UINT64_MAX ? most : u64() % (most + 1); }
  bool chance(unsigned percent) { return below(100) < percent; }
  std::size_t size(std::size_t most) { return chance(30) ? 0 : static_cast<std::size_t>(below(most + 1)); }

  // Any bytes, NUL included unless `nul` is false (paths and arguments cannot hold one).
  std::string text(bool nul = true) {
    std::string s(size(chance(5) ? 300 : 12), '\0');
    for (char& c : s) {
      c = static_cast<char>(below(256));
      if (!nul && c == '\0') {
        c = '/';
      }
    }
    return s;
  }

  // Counters as the model allows them: never more freed than allocated.
  Metrics metrics() {
    Metrics m;
    m.alloc_count = u64();
    m.alloc_bytes = u64();
    m.free_count = at_most(m.alloc_count);
    m.freed_bytes = at_most(m.alloc_bytes);
    m.live_count = m.alloc_count - m.free_count;
    m.live_bytes = m.alloc_bytes - m.freed_bytes;
    m.peak_bytes = u64();
    m.temporary_count = u64();
    return m;
  }

  // `n` distinct increasing values below `limit` (fewer when the range is smaller).
  std::vector<std::uint64_t> increasing(std::size_t n, std::uint64_t limit) {
    std::vector<std::uint64_t> out;
    std::uint64_t next = below(3) == 0 || limit < 2 ? 0 : below(limit);
    for (std::size_t i = 0; i < n && next < limit; ++i) {
      out.push_back(next);
      std::uint64_t room = limit - next - 1;
      if (room == 0) {
        break;
      }
      next += 1 + (chance(50) ? 0 : below(std::min<std::uint64_t>(room, chance(10) ? room : 1000)));
    }
    return out;
  }

 private:
  std::mt19937_64 m_random;
};

std::vector<SymbolFrame> frames(Generator& g, std::size_t strings) {
  std::vector<SymbolFrame> out(g.size(4));
  for (SymbolFrame& f : out) {
    f.function = static_cast<std::uint32_t>(g.below(strings + 1));
    f.file = static_cast<std::uint32_t>(g.below(strings + 1));
    f.line = g.u32();
  }
  return out;
}

Capture generate(std::uint64_t seed) {
  Generator g(seed);
  Capture c;
  Program& p = c.program;
  p.executable = g.text(false);
  p.arguments.resize(g.size(5));
  for (std::string& a : p.arguments) {
    a = g.text(false);
  }
  p.pid = g.u64();
  p.parent_pid = g.u64();
  p.mode = static_cast<CaptureMode>(g.below(4));
  p.depth = g.u32();
  p.sample_interval = g.u64();
  p.start_time_ns = g.u64();
  p.end_time_ns = g.u64();
  p.duration_ns = g.u64();
  p.flags = g.u32();
  if (g.chance(50)) {
    p.exit = ExitInfo{g.i64(), g.u32()};
  }

  c.modules.resize(g.size(4));
  for (Module& m : c.modules) {
    m.path = g.text(false);
    m.build_id = g.text();
    m.load_bias = g.u64();
    m.first_generation = g.u32();
    if (g.chance(50)) {
      m.end_generation = g.u32();
    }
    m.segments.resize(g.size(3));
    for (Segment& s : m.segments) {
      s = Segment{g.u64(), g.u64(), g.u64(), g.u32()};
    }
  }

  c.stacks.resize(g.size(6));
  for (Stack& s : c.stacks) {
    s.generation = g.u32();
    s.flags = g.u32();
    std::vector<std::uint64_t> frames(g.chance(3) ? 1024 : g.size(8));
    for (std::uint64_t& f : frames) {
      f = g.u64();
    }
    s.frames = frames;
  }
  for (std::uint64_t stack : g.increasing(g.size(6), c.stacks.size())) {
    c.sites.push_back(Site{static_cast<std::uint32_t>(stack), g.metrics()});
  }
  c.totals = g.metrics();
  c.toolkit_bytes = g.u64();
  c.toolkit_peak_bytes = g.u64();
  c.resident_bytes = g.u64();
  c.threads = g.u64();
  c.diagnostics.resize(g.size(4));
  for (Diagnostic& d : c.diagnostics) {
    d = Diagnostic{g.text(), g.u64()};
  }
  c.warnings.resize(g.size(3));
  for (std::string& w : c.warnings) {
    w = g.text();
  }

  c.scopes.resize(g.size(3));
  for (ScopeRecord& s : c.scopes) {
    s.name = g.text();
    s.entries = g.u64();
    s.alloc_count = g.u64();
    s.alloc_bytes = g.u64();
    s.free_count = g.u64();
    s.freed_bytes = g.u64();
    s.net_bytes = g.i64();
    s.peak_max = g.u64();
    s.peak_sum = g.u64();
    for (std::uint64_t stack : g.increasing(g.size(4), c.stacks.size())) {
      s.sites.push_back({static_cast<std::uint32_t>(stack), g.u64(), g.u64(), g.u64(), g.u64()});
    }
  }

  CaptureSymbols& symbols = c.symbols;
  symbols.strings.resize(g.size(6));
  for (std::string& s : symbols.strings) {
    s = g.text();
  }
  for (std::uint64_t address : g.increasing(g.size(5), g.chance(20) ? UINT64_MAX : 1 << 20)) {
    symbols.addresses.push_back({address, static_cast<std::uint32_t>(g.below(symbols.strings.size() + 1)), g.u64(),
                                 frames(g, symbols.strings.size())});
  }
  for (std::uint64_t module : g.increasing(g.size(3), c.modules.size())) {
    ModuleSymbols& m = symbols.modules.emplace_back();
    m.module = static_cast<std::uint32_t>(module);
    for (std::uint64_t offset : g.increasing(g.size(4), g.chance(20) ? UINT64_MAX : 1 << 16)) {
      m.offsets.push_back({offset, frames(g, symbols.strings.size())});
    }
  }

  CaptureTimeline& t = c.timeline;
  if (g.chance(60)) {
    t.interval_ns = g.u64();
    t.peak_bytes = g.u64();
    t.peak_after_ns = g.u64();
    t.peak_before_ns = t.peak_after_ns + (g.chance(50) ? 0 : g.below(UINT64_MAX - t.peak_after_ns));
    std::uint64_t time = 0;
    t.samples.resize(g.size(5));
    for (TimelineSample& s : t.samples) {
      time += g.chance(30) ? 0 : g.below(UINT64_MAX - time);
      s = TimelineSample{time, g.u64(), g.u64()};
    }
  }

  CaptureSummary& sum = c.summary;
  if (g.chance(60)) {
    sum.recorded = true;
    sum.sizes.resize(g.below(66));
    for (SizeClassCounts& k : sum.sizes) {
      k = SizeClassCounts{g.u64(), g.u64()};
    }
    sum.temporary_bytes = g.u64();
    sum.inherited_count = g.u64();
    sum.inherited_bytes = g.u64();
    sum.largest.resize(g.size(4));
    for (LargestAllocation& a : sum.largest) {
      a = LargestAllocation{g.u64(), g.u64(), static_cast<std::uint32_t>(g.below(c.stacks.size()))};
    }
    sum.threads.resize(g.size(4));
    for (ThreadCounts& thread : sum.threads) {
      thread = ThreadCounts{g.u64(), g.text(), g.chance(50), g.u64(), g.u64(), g.u64(), g.u64()};
    }
    sum.other_threads = g.u64();
    sum.other = ThreadCounts{0, "", false, g.u64(), g.u64(), g.u64(), g.u64()};
  }

  if (!c.stacks.empty() && g.chance(60)) {
    c.intervals.resize(g.size(4));
    std::uint64_t end = 0;
    for (CaptureInterval& v : c.intervals) {
      end += g.chance(30) ? 0 : g.below(UINT64_MAX / 64);
      v.end_ns = end;
      v.toolkit_bytes = g.u64();
      for (std::uint64_t stack : g.increasing(g.size(4), c.stacks.size())) {
        v.changes.push_back({static_cast<std::uint32_t>(stack), g.u64(), g.u64(), g.u64(), g.u64()});
      }
    }
  }
  return c;
}

}  // namespace

TEST_CASE("capture format: every capture the writer is given reads back identically") {
  for (std::uint64_t seed = 1; seed <= 3000; ++seed) {
    CAPTURE(seed);
    Capture c = generate(seed);
    std::vector<unsigned char> bytes = encode_capture(c);
    Capture back;
    try {
      back = parse_capture(bytes, "generated.msr");
    } catch (const FormatError& e) {
      FAIL_CHECK("the reader rejects what the writer wrote: " << std::string(e.what()));
      continue;
    }
    CHECK(back == c);
    CHECK(encode_capture(back) == bytes);
  }
}

TEST_CASE("capture format: the smallest record of each kind reads back") {
  // Each list holds one record with every field at its shortest encoding; the reader checks
  // counts against the bytes left, so a minimum it overstates rejects exactly these.
  Capture c;
  c.modules = {Module{}};  // an empty path, no build-id, no segments: 6 bytes
  c.stacks = {Stack{}};
  c.sites = {Site{}};
  c.diagnostics = {Diagnostic{}};
  c.warnings = {std::string()};
  c.scopes = {ScopeRecord{}};  // an empty name, zeros, no sites: 10 bytes
  c.symbols.addresses = {AddressSymbols{}};
  c.symbols.modules = {ModuleSymbols{0, {OffsetSymbols{}}}};
  c.timeline.samples = {TimelineSample{}};
  c.intervals = {CaptureInterval{0, 0, {IntervalChange{}}}};  // 3 bytes, and a change of 5
  Capture back = parse_capture(encode_capture(c), "smallest.msr");
  CHECK(back == c);
}
