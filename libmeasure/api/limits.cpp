// Allocation limits for tests: a statement's counts against a bound, and a failure message
// that names the lines behind the broken bound.
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "api/api_internal.h"
#include "report/formats.h"

namespace measure {
namespace {

std::uint64_t positive(std::int64_t v) noexcept {
  return v < 0 ? 0 : static_cast<std::uint64_t>(v);
}

// "expected at most 2 allocations", "expected a peak of at most 4.0 KiB" ...
std::string expectation(Limit limit, std::uint64_t max) {
  switch (limit) {
    case Limit::alloc_count:
      return fmt::format("expected at most {} allocation{}", grouped(max), max == 1 ? "" : "s");
    case Limit::alloc_bytes:
      return fmt::format("expected at most {} allocated", human_bytes(max));
    case Limit::peak_bytes:
      return fmt::format("expected a peak of at most {}", human_bytes(max));
    case Limit::live_bytes:
      return fmt::format("expected at most {} still live at its end", human_bytes(max));
    case Limit::live_count:
      return fmt::format("expected at most {} block{} still live at its end", grouped(max), max == 1 ? "" : "s");
  }
  return {};
}

std::string value_text(Limit limit, std::uint64_t value) {
  return limit == Limit::alloc_count || limit == Limit::live_count ? grouped(value) : human_bytes(value);
}

// The sites behind one kind of limit, summed by the line they are attributed to (the
// innermost frame in the program's own code), with the heaviest stack's callers of it.
struct LineGroup {
  std::string line;     // "function  file:line"
  std::string callers;  // "\n      from ..." lines
  std::uint64_t bytes = 0;
  std::uint64_t count = 0;
  std::uint64_t heaviest = 0;  // bytes of the heaviest stack, whose callers are shown
};

// The frame's two callers in the program's own code, outside measure's header (the lambda
// count_allocations calls and count_allocations itself are in every stack), up to main.
std::string callers_of(const std::vector<Frame>& frames, const Frame* key) {
  std::string out;
  int shown = 0;
  for (const Frame* f = key; f + 1 < frames.data() + frames.size() && shown < 2 && f->function != "main"; ++f) {
    const Frame& caller = f[1];
    std::string_view file = caller.file;
    if (file.ends_with("measure/measure.hpp") || is_system_frame(caller)) {
      continue;
    }
    out += fmt::format("\n      from {}", describe_frame(caller, true));
    ++shown;
  }
  return out;
}

std::vector<LineGroup> by_line(const std::vector<ScopeSite>& sites, Limit limit) {
  std::map<std::string, LineGroup> groups;
  for (const ScopeSite& site : sites) {
    std::uint64_t bytes = 0;
    std::uint64_t count = 0;
    switch (limit) {
      case Limit::alloc_count:
      case Limit::alloc_bytes:
        bytes = site.alloc_bytes;
        count = site.alloc_count;
        break;
      case Limit::peak_bytes:
        bytes = positive(site.peak_bytes);
        break;
      case Limit::live_bytes:
      case Limit::live_count:
        bytes = positive(site.live_bytes);
        count = site.alloc_count > site.free_count ? site.alloc_count - site.free_count : 0;
        break;
    }
    if (bytes == 0 && count == 0) {
      continue;
    }
    std::vector<Frame> frames = internal_frames(site.stack);
    const Frame* key = key_frame(frames);
    std::string line = key != nullptr ? describe_frame(*key, true) : std::string("(unknown stack)");
    LineGroup& g = groups[line];
    g.line = line;
    g.bytes += bytes;
    g.count += count;
    if (key != nullptr && bytes >= g.heaviest) {
      g.heaviest = bytes;
      g.callers = callers_of(frames, key);
    }
  }
  std::vector<LineGroup> out;
  out.reserve(groups.size());
  for (auto& [line, g] : groups) {
    out.push_back(std::move(g));
  }
  bool by_count = limit == Limit::alloc_count || limit == Limit::live_count;
  std::sort(out.begin(), out.end(), [&](const LineGroup& a, const LineGroup& b) {
    std::uint64_t x = by_count ? a.count : a.bytes;
    std::uint64_t y = by_count ? b.count : b.bytes;
    if (x != y) {
      return x > y;
    }
    return a.line < b.line;
  });
  return out;
}

std::string site_line(const LineGroup& g, Limit limit) {
  switch (limit) {
    case Limit::alloc_count:
    case Limit::alloc_bytes:
      return fmt::format("{} × {} at {}", grouped(g.count), human_bytes(g.bytes), g.line);
    case Limit::peak_bytes:
      return fmt::format("{} at the peak from {}", human_bytes(g.bytes), g.line);
    case Limit::live_bytes:
    case Limit::live_count:
      return fmt::format("{} in {} block{} still live from {}", human_bytes(g.bytes), grouped(g.count),
                         g.count == 1 ? "" : "s", g.line);
  }
  return g.line;
}

std::string limit_message(const Counts& counts, Limit limit, std::uint64_t max, std::string_view statement) {
  constexpr std::size_t max_lines = 10;
  std::string out = statement.empty() ? std::string() : fmt::format("{}: ", statement);
  out += expectation(limit, max);
  if (!counts.measured()) {
    out += fmt::format(", but {}", to_string(counts.status));
    return out;
  }
  out += fmt::format(", got {}: {}", value_text(limit, measured_value(counts, limit)), counts.describe(0));
  std::vector<LineGroup> lines = by_line(limit == Limit::peak_bytes ? counts.sites_at_peak() : counts.sites(), limit);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i == max_lines) {
      out += fmt::format("\n  ... and {} more lines", lines.size() - max_lines);
      break;
    }
    out += fmt::format("\n  {}{}", site_line(lines[i], limit), lines[i].callers);
  }
  return out;
}

}  // namespace

std::uint64_t measured_value(const Counts& counts, Limit limit) noexcept {
  switch (limit) {
    case Limit::alloc_count:
      return counts.alloc_count;
    case Limit::alloc_bytes:
      return counts.alloc_bytes;
    case Limit::peak_bytes:
      return counts.peak_bytes;
    case Limit::live_bytes:
      return positive(counts.live_bytes);
    case Limit::live_count:
      return positive(counts.live_count);
  }
  return 0;
}

std::optional<std::string> check_limit(const Counts& counts, Limit limit, std::uint64_t max,
                                       std::string_view statement) {
  if (counts.measured() && measured_value(counts, limit) <= max) {
    return std::nullopt;
  }
  return limit_message(counts, limit, max, statement);
}

std::string describe_excess(const Counts& counts, std::uint64_t limit, std::string_view statement) {
  return limit_message(counts, Limit::alloc_count, limit, statement);
}

}  // namespace measure
