// The pprof format: a gzip-compressed perftools.profiles.Profile (profile.proto), the format
// of Go's heap profiles, with the same four sample types (alloc_objects, alloc_space,
// inuse_objects, inuse_space), so pprof, Grafana Pyroscope and Parca show it as a heap
// profile. "inuse" is what was still live when the capture was written.
#include <zlib.h>

#include <algorithm>
#include <limits>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include "report/formats.h"
#include "report/protobuf.h"
#include "support/error.h"

namespace measure {
namespace detail {

std::string gzip(std::string_view bytes) {
  z_stream z{};
  // windowBits 15 + 16: a gzip header instead of zlib's; zlib writes mtime 0, so the output
  // is deterministic. The fastest level: on 100,000 stacks level 6 took 150 ms of a report
  // that must stay under a second, for a file 20% smaller.
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw Error("cannot compress the profile: zlib failed to start");
  }
  std::string out(deflateBound(&z, bytes.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int status = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (status != Z_STREAM_END) {
    throw Error("cannot compress the profile: zlib failed");
  }
  return out;
}

}  // namespace detail

namespace {

using detail::ProtoWriter;

// Field numbers of profile.proto (github.com/google/pprof/blob/main/proto/profile.proto).
enum ProfileField : std::uint32_t {
  sample_type_field = 1,
  sample_field = 2,
  mapping_field = 3,
  location_field = 4,
  function_field = 5,
  string_table_field = 6,
  time_nanos_field = 9,
  duration_nanos_field = 10,
  period_type_field = 11,
  period_field = 12,
  comment_field = 13,
  default_sample_type_field = 14,
};

constexpr std::uint32_t pf_x = 1;  // PT_LOAD flag: executable

std::int64_t clamp(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(v, std::numeric_limits<std::int64_t>::max()));
}

class ProfileBuilder {
 public:
  explicit ProfileBuilder(const Report& r)
      : m_report(r), m_location_of(r.frames.size(), 0), m_function_of(r.frames.size(), 0) {
    m_strings.emplace_back();
  }

  std::string build() {
    const Capture& c = *m_report.capture;
    ProtoWriter profile;
    for (auto [type, unit] : {std::pair{"alloc_objects", "count"},
                              {"alloc_space", "bytes"},
                              {"inuse_objects", "count"},
                              {"inuse_space", "bytes"}}) {
      profile.message_field(sample_type_field, value_type(type, unit));
    }
    for (std::size_t i = 0; i < c.modules.size(); ++i) {
      profile.message_field(mapping_field, mapping(c.modules[i], i + 1));
      m_mapping_of.try_emplace(c.modules[i].path, i + 1);
    }
    ProtoWriter sample;
    std::vector<std::uint64_t> locations;
    std::vector<std::int64_t> values(4);
    std::vector<std::uint32_t> frames;
    for (const Sample& s : m_report.samples) {
      locations.clear();
      s.frames.decode(frames);
      for (std::size_t i = 0; i < frames.size();) {
        // One location per return address: its inlined frames, then the function they
        // were inlined into (the allocator's frames at the start are already gone).
        std::size_t j = i;
        while (j + 1 < frames.size() && m_report.frames[frames[j]].inlined &&
               m_report.frames[frames[j + 1]].address == m_report.frames[frames[i]].address) {
          ++j;
        }
        locations.push_back(location(frames[i], frames[j]));
        i = j + 1;
      }
      const Metrics& m = s.metrics;
      sample.clear();
      sample.packed_field(1, locations);
      sample.packed_field(2, std::vector<std::int64_t>{clamp(m.alloc_count), clamp(m.alloc_bytes), clamp(m.live_count),
                                                       clamp(m.live_bytes)});
      profile.message_field(sample_field, sample);
    }
    for (const std::string& loc : m_locations) {
      profile.bytes_field(location_field, loc);
    }
    for (const std::string& fn : m_functions) {
      profile.bytes_field(function_field, fn);
    }
    profile.int_field(time_nanos_field, clamp(c.program.start_time_ns));
    profile.int_field(duration_nanos_field, clamp(c.program.duration_ns));
    profile.message_field(period_type_field, value_type("space", "bytes"));
    profile.int_field(period_field, c.program.mode == CaptureMode::sampled ? clamp(c.program.sample_interval) : 1);
    std::string command = command_line(c.program);
    profile.packed_field(comment_field,
                         std::vector<std::int64_t>{string_index(fmt::format("measure: {}", command)),
                                                   string_index(fmt::format("mode: {}", mode_name(c.program.mode)))});
    std::string_view default_type = "alloc_space";
    if (m_report.options.sort == SortBy::count || m_report.options.sort == SortBy::temporary) {
      default_type = "alloc_objects";
    } else if (m_report.options.sort == SortBy::leaked) {
      default_type = "inuse_space";
    }
    profile.int_field(default_sample_type_field, string_index(default_type));
    for (const std::string& s : m_strings) {
      profile.bytes_field(string_table_field, s);
    }
    return detail::gzip(profile.bytes());
  }

 private:
  std::int64_t string_index(std::string_view s) {
    if (s.empty()) {
      return 0;
    }
    auto [it, inserted] = m_string_index.try_emplace(std::string(s), static_cast<std::int64_t>(m_strings.size()));
    if (inserted) {
      m_strings.emplace_back(s);
    }
    return it->second;
  }

  ProtoWriter value_type(std::string_view type, std::string_view unit) {
    ProtoWriter w;
    w.int_field(1, string_index(type));
    w.int_field(2, string_index(unit));
    return w;
  }

  ProtoWriter mapping(const Module& m, std::uint64_t id) {
    // The executable segment is what addresses fall in; without one, the whole span.
    std::uint64_t start = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t limit = 0;
    std::uint64_t offset = 0;
    for (const Segment& s : m.segments) {
      if ((s.flags & pf_x) != 0) {
        start = m.load_bias + s.vaddr;
        limit = start + s.memsz;
        offset = s.offset;
        break;
      }
      if (m.load_bias + s.vaddr < start) {
        start = m.load_bias + s.vaddr;
        offset = s.offset;
      }
      limit = std::max(limit, m.load_bias + s.vaddr + s.memsz);
    }
    if (m.segments.empty()) {
      start = 0;
    }
    std::string build_id;
    for (unsigned char b : m.build_id) {
      build_id += fmt::format("{:02x}", b);
    }
    ProtoWriter w;
    w.uint_field(1, id);
    w.uint_field(2, start);
    w.uint_field(3, limit);
    w.uint_field(4, offset);
    w.int_field(5, string_index(m.path));
    w.int_field(6, string_index(build_id));
    // Frames are already symbolized: viewers must not try again.
    for (std::uint32_t field : {7U, 8U, 9U, 10U}) {
      w.bool_field(field, true);
    }
    return w;
  }

  std::uint64_t function(std::uint32_t frame) {
    if (m_function_of[frame] != 0) {
      return m_function_of[frame];
    }
    const Frame& f = m_report.frames[frame];
    auto [it, inserted] = m_function_index.try_emplace({f.function, f.file}, m_functions.size() + 1);
    m_function_of[frame] = it->second;
    if (inserted) {
      ProtoWriter w;
      w.uint_field(1, it->second);
      w.int_field(2, string_index(f.function));
      w.int_field(3, string_index(f.function));
      w.int_field(4, string_index(f.file));
      m_functions.push_back(w.bytes());
    }
    return it->second;
  }

  // A location is a run of frames of one address; the run is fixed by its first frame (it
  // ends at the first frame that is not inlined), so the first frame's index keys it.
  std::uint64_t location(std::uint32_t first, std::uint32_t last) {
    if (m_location_of[first] != 0) {
      return m_location_of[first];
    }
    std::uint64_t id = m_locations.size() + 1;
    m_location_of[first] = id;
    const Frame& base = m_report.frames[first];
    ProtoWriter w;
    w.uint_field(1, id);
    if (auto mapping = m_mapping_of.find(base.module); mapping != m_mapping_of.end()) {
      w.uint_field(2, mapping->second);
    }
    // A return address points after the call; the call itself is one byte before.
    w.uint_field(3, base.address == 0 ? 0 : base.address - 1);
    for (std::uint32_t f = first; f <= last; ++f) {
      const Frame& frame = m_report.frames[f];
      if (frame.function.empty()) {
        continue;  // an unnamed address: viewers show the address and mapping
      }
      ProtoWriter line;
      line.uint_field(1, function(f));
      line.int_field(2, frame.line);
      w.message_field(4, line);
    }
    m_locations.push_back(w.bytes());
    return id;
  }

  const Report& m_report;
  std::vector<std::string> m_strings;
  std::unordered_map<std::string, std::int64_t> m_string_index;
  std::map<std::string, std::uint64_t> m_mapping_of;  // module path -> mapping id
  std::map<std::pair<std::string, std::string>, std::uint64_t> m_function_index;
  std::vector<std::string> m_functions;
  std::vector<std::uint64_t> m_location_of;  // per first frame: its location id, 0 for none yet
  std::vector<std::uint64_t> m_function_of;  // per frame: its function id, 0 for none yet
  std::vector<std::string> m_locations;
};

}  // namespace

std::string render_pprof(const Report& report) {
  return ProfileBuilder(report).build();
}

}  // namespace measure
