#include "format/merge.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include "format/capture_format.h"
#include "support/error.h"

namespace measure {
namespace {

// Diagnostics that are a property of one process, not a count: the merge keeps the first
// part's value instead of a sum.
bool is_property(std::string_view name) noexcept {
  return name == "unwind_tables" || name == "sample_seed";
}

// The highest module generation a capture uses (0 when it has none).
std::uint32_t last_generation(const Capture& c) noexcept {
  std::uint32_t last = 0;
  for (const Module& m : c.modules) {
    last = std::max(last, m.first_generation);
    if (m.end_generation) {
      last = std::max(last, *m.end_generation);
    }
  }
  for (const Stack& s : c.stacks) {
    if (!s.frames.empty()) {
      last = std::max(last, s.generation);
    }
  }
  return last;
}

// Merges the string tables: the index of each part's string in the merged table.
class Strings {
 public:
  explicit Strings(std::vector<std::string>& table) : m_table(table) {}
  std::vector<std::uint32_t> add(const std::vector<std::string>& strings) {
    std::vector<std::uint32_t> map(strings.size() + 1, 0);
    for (std::size_t i = 0; i < strings.size(); ++i) {
      auto [it, inserted] = m_index.try_emplace(strings[i], static_cast<std::uint32_t>(m_table.size() + 1));
      if (inserted) {
        m_table.push_back(strings[i]);
      }
      map[i + 1] = it->second;
    }
    return map;
  }

 private:
  std::vector<std::string>& m_table;
  std::unordered_map<std::string, std::uint32_t> m_index;
};

std::vector<SymbolFrame> remap(const std::vector<SymbolFrame>& frames, const std::vector<std::uint32_t>& strings) {
  std::vector<SymbolFrame> out = frames;
  for (SymbolFrame& f : out) {
    f.function = strings[f.function];
    f.file = strings[f.file];
  }
  return out;
}

std::string part_label(const Capture& c) {
  std::string command = c.program.arguments.empty() ? c.program.executable : c.program.arguments.front();
  return fmt::format("pid {} ({})", c.program.pid, command);
}

// Adds a part's summary: sizes and counts summed, threads listed after the earlier parts',
// the largest allocations of all parts merged (as many kept as one capture keeps).
void add_summary(CaptureSummary& out, const CaptureSummary& part, const std::vector<std::uint32_t>& stack_of) {
  if (out.sizes.size() < part.sizes.size()) {
    out.sizes.resize(part.sizes.size());
  }
  for (std::size_t i = 0; i < part.sizes.size(); ++i) {
    out.sizes[i].count += part.sizes[i].count;
    out.sizes[i].bytes += part.sizes[i].bytes;
  }
  out.temporary_bytes += part.temporary_bytes;
  out.inherited_count += part.inherited_count;
  out.inherited_bytes += part.inherited_bytes;
  for (LargestAllocation a : part.largest) {
    a.stack = a.stack < stack_of.size() ? stack_of[a.stack] : 0;
    out.largest.push_back(a);
  }
  std::stable_sort(out.largest.begin(), out.largest.end(),
                   [](const LargestAllocation& a, const LargestAllocation& b) { return a.size > b.size; });
  if (out.largest.size() > format::summary_largest_kept) {
    out.largest.resize(format::summary_largest_kept);
  }
  out.threads.insert(out.threads.end(), part.threads.begin(), part.threads.end());
  out.other_threads += part.other_threads;
  out.other.alloc_count += part.other.alloc_count;
  out.other.alloc_bytes += part.other.alloc_bytes;
  out.other.free_count += part.other.free_count;
  out.other.freed_bytes += part.other.freed_bytes;
}

}  // namespace

Capture merge_captures(std::span<const Capture> parts, std::span<const std::string> names) {
  if (parts.empty()) {
    throw UsageError("no capture to merge");
  }
  if (parts.size() == 1) {
    return parts.front();
  }
  for (std::size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].program.mode != parts[0].program.mode) {
      throw UsageError(fmt::format("cannot merge {} ({} mode) with {} ({} mode): their metrics mean different things",
                                   names[0], mode_name(parts[0].program.mode), names[i],
                                   mode_name(parts[i].program.mode)));
    }
  }
  // Imported recordings carry symbols by absolute address, valid in every generation: each
  // such part's addresses move to a range of their own, above any real address, so they name
  // neither another part's code nor each other's.
  std::size_t with_addresses = 0;
  for (const Capture& c : parts) {
    with_addresses += c.symbols.addresses.empty() ? 0 : 1;
  }
  bool relocate = with_addresses != 0;

  Capture out;
  out.program = parts[0].program;
  out.summary.recorded = std::all_of(parts.begin(), parts.end(), [](const Capture& c) { return c.summary.recorded; });
  out.stacks.emplace_back();  // stack 0: allocations without a stack
  Strings strings(out.symbols.strings);
  std::map<std::uint32_t, Metrics> sites;
  std::map<std::string, ScopeRecord> scopes;
  std::vector<std::string> scope_order;
  std::vector<std::string> labels;
  std::uint64_t merged_parts = 0;
  std::uint32_t generation_base = 0;
  std::uint64_t start = UINT64_MAX;
  std::uint64_t end = 0;

  for (std::size_t k = 0; k < parts.size(); ++k) {
    const Capture& c = parts[k];
    std::uint64_t shift = relocate && !c.symbols.addresses.empty() ? static_cast<std::uint64_t>(k + 1) << 48 : 0;
    std::uint32_t last = last_generation(c);
    auto module_base = static_cast<std::uint32_t>(out.modules.size());

    for (const Module& m : c.modules) {
      Module moved = m;
      moved.first_generation += generation_base;
      // A module still loaded at the end must not claim the next part's generations.
      moved.end_generation = generation_base + (m.end_generation ? *m.end_generation : last + 1);
      out.modules.push_back(std::move(moved));
    }
    std::vector<std::uint32_t> stack_of(c.stacks.size());
    std::vector<std::uint64_t> addresses;
    for (std::size_t i = 0; i < c.stacks.size(); ++i) {
      const Stack& s = c.stacks[i];
      if (i == 0 && s.frames.empty() && s.flags == 0) {
        stack_of[i] = 0;
        continue;
      }
      Stack moved = s;
      if (!moved.frames.empty()) {
        moved.generation += generation_base;
        moved.frames.decode(addresses);
        for (std::uint64_t& address : addresses) {
          address += shift;
        }
        moved.frames.assign(addresses.begin(), addresses.end());
      }
      stack_of[i] = static_cast<std::uint32_t>(out.stacks.size());
      out.stacks.push_back(std::move(moved));
    }
    for (const Site& s : c.sites) {
      sites[stack_of[s.stack]] += s.metrics;
    }

    std::vector<std::uint32_t> string_of = strings.add(c.symbols.strings);
    for (const AddressSymbols& a : c.symbols.addresses) {
      out.symbols.addresses.push_back({a.address + shift, string_of[a.module], a.offset, remap(a.frames, string_of)});
    }
    for (const ModuleSymbols& m : c.symbols.modules) {
      ModuleSymbols& moved = out.symbols.modules.emplace_back();
      moved.module = module_base + m.module;
      for (const OffsetSymbols& o : m.offsets) {
        moved.offsets.push_back({o.offset, remap(o.frames, string_of)});
      }
    }

    for (const ScopeRecord& s : c.scopes) {
      auto [it, inserted] = scopes.try_emplace(s.name);
      ScopeRecord& r = it->second;
      if (inserted) {
        r.name = s.name;
        scope_order.push_back(s.name);
      }
      r.entries += s.entries;
      r.alloc_count += s.alloc_count;
      r.alloc_bytes += s.alloc_bytes;
      r.free_count += s.free_count;
      r.freed_bytes += s.freed_bytes;
      r.net_bytes += s.net_bytes;
      r.peak_max = std::max(r.peak_max, s.peak_max);
      r.peak_sum += s.peak_sum;
      for (const ScopeSiteCounts& site : s.sites) {
        ScopeSiteCounts moved = site;
        moved.stack = stack_of[site.stack];
        r.sites.push_back(moved);
      }
    }

    add_summary(out.summary, c.summary, stack_of);
    out.totals += c.totals;
    out.toolkit_bytes += c.toolkit_bytes;
    out.toolkit_peak_bytes += c.toolkit_peak_bytes;
    out.resident_bytes += c.resident_bytes;
    out.threads += c.threads;
    out.program.depth = std::max(out.program.depth, c.program.depth);
    if (c.partial()) {
      out.program.flags &= ~static_cast<std::uint32_t>(format::program_final);
    }
    out.program.flags |= c.program.flags & format::program_hooks_inactive;
    for (const Diagnostic& d : c.diagnostics) {
      auto it = std::find_if(out.diagnostics.begin(), out.diagnostics.end(),
                             [&](const Diagnostic& o) { return o.name == d.name; });
      if (it == out.diagnostics.end()) {
        out.diagnostics.push_back(d);
      } else if (!is_property(d.name)) {
        it->value += d.value;
      }
    }
    for (const std::string& w : c.warnings) {
      if (w.rfind("merged from ", 0) != 0 &&
          std::find(out.warnings.begin(), out.warnings.end(), w) == out.warnings.end()) {
        out.warnings.push_back(w);
      }
    }
    merged_parts += std::max<std::uint64_t>(c.diagnostic("merged_captures"), 1);
    labels.push_back(part_label(c));
    if (c.program.start_time_ns != 0) {
      start = std::min(start, c.program.start_time_ns);
      end = std::max(end, c.program.end_time_ns);
    }
    generation_base += last + 1;
  }

  for (auto& [stack, metrics] : sites) {
    out.sites.push_back({stack, metrics});
  }
  if (!out.summary.recorded) {
    out.summary = CaptureSummary{};
  }
  for (const std::string& name : scope_order) {
    ScopeRecord& r = scopes[name];
    std::sort(r.sites.begin(), r.sites.end(),
              [](const ScopeSiteCounts& a, const ScopeSiteCounts& b) { return a.stack < b.stack; });
    // Two parts' sites can meet at stack 0.
    std::vector<ScopeSiteCounts> summed;
    for (const ScopeSiteCounts& s : r.sites) {
      if (!summed.empty() && summed.back().stack == s.stack) {
        summed.back().alloc_count += s.alloc_count;
        summed.back().alloc_bytes += s.alloc_bytes;
        summed.back().free_count += s.free_count;
        summed.back().freed_bytes += s.freed_bytes;
      } else {
        summed.push_back(s);
      }
    }
    r.sites = std::move(summed);
    out.scopes.push_back(std::move(r));
  }
  std::sort(out.symbols.addresses.begin(), out.symbols.addresses.end(),
            [](const AddressSymbols& a, const AddressSymbols& b) { return a.address < b.address; });
  if (start != UINT64_MAX) {
    out.program.start_time_ns = start;
    out.program.end_time_ns = end;
    out.program.duration_ns = std::max(out.program.duration_ns, end - start);
  }

  auto merged = std::find_if(out.diagnostics.begin(), out.diagnostics.end(),
                             [](const Diagnostic& d) { return d.name == "merged_captures"; });
  if (merged == out.diagnostics.end()) {
    out.diagnostics.push_back({"merged_captures", merged_parts});
  } else {
    merged->value = merged_parts;
  }
  std::string listed;
  constexpr std::size_t named = 8;
  for (std::size_t i = 0; i < labels.size() && i < named; ++i) {
    listed += (i == 0 ? "" : ", ") + labels[i];
  }
  if (labels.size() > named) {
    listed += fmt::format(" and {} more", labels.size() - named);
  }
  out.warnings.insert(
      out.warnings.begin(),
      fmt::format("merged from {} captures: {}; totals and the peak are their sums", merged_parts, listed));
  return out;
}

}  // namespace measure
