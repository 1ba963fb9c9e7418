// Grouping a capture into report rows: every call site's stack is symbolized once, its
// frames interned, and the site credited to the row of its key frame (or of every frame,
// or of its whole stack). Everything that depends only on a frame is decided once per
// distinct frame, so reports stay fast on captures of 100,000 stacks (docs/performance.md).
#include <algorithm>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "report/address_map.h"
#include "report/report.h"
#include "support/error.h"

namespace measure {
namespace {

// The grouping of one report. Everything that depends only on a frame (its class, its row,
// whether it matches a pattern) is computed once per distinct frame, not once per stack: a
// capture of 100,000 stacks shares far fewer frames than it has (docs/performance.md).
class Grouper {
 public:
  Grouper(const Capture& capture, const ReportOptions& options, Report& report, const FrameResolver& resolve)
      : m_capture(capture), m_options(options), m_report(report), m_resolve(resolve) {
    m_include.resize(options.include.size());
    m_exclude.resize(options.exclude.size());
    if (options.by == GroupBy::stack && !options.cumulative) {
      // Nearly a row per site: grown by doubling, the rows would peak at three times their size.
      m_groups.reserve(capture.sites.size());
      m_report.rows.reserve(capture.sites.size());
    }
  }

  void add(const Site& site) {
    const Stack& stack = m_capture.stacks[site.stack];
    Sample sample;
    sample.stack = site.stack;
    sample.metrics = site.metrics;
    sample.truncated = (stack.flags & stack_truncated) != 0;
    // Built in scratch space and copied at its exact size: a report keeps every sample, and
    // inlined frames make the final count unknown until the end.
    m_scratch.clear();
    for (std::uint64_t address : stack.frames) {
      auto [first, count] = expand(address, stack.generation);
      for (std::uint32_t f = first; f < first + count; ++f) {
        m_scratch.push_back(f);
      }
    }
    // The allocator's own frames go; if nothing else is left, keep its outermost frame.
    auto keep = std::find_if_not(m_scratch.begin(), m_scratch.end(),
                                 [&](std::uint32_t f) { return (m_class[f] & allocator_class) != 0; });
    if (keep == m_scratch.end() && !m_scratch.empty()) {
      --keep;
    }
    std::span<const std::uint32_t> frames(keep, m_scratch.end());
    if (!selected(frames)) {
      return;
    }
    m_report.selected += sample.metrics;
    if (m_options.modules) {
      credit_module(frames, sample.metrics);
    }
    std::size_t index = m_report.samples.size();
    if (m_options.cumulative) {
      m_seen.clear();  // a recursive frame counts once per stack
      for (std::uint32_t f : frames) {
        // What runs main and threads (_start, __libc_start_main, start_thread, clone3) is on
        // every stack: crediting it would only put it above the program's own code.
        if ((m_class[f] & entry_class) != 0) {
          continue;
        }
        if (m_report.frames[f].function == "main") {
          credit_once(frame_group(f), sample, index);
          break;
        }
        std::size_t g = frame_group(f);
        credit_once(g, sample, index);
      }
      if (m_seen.empty()) {
        credit(unknown_group(), sample, index);
      }
    } else if (m_options.by == GroupBy::stack) {
      sample.row = static_cast<std::uint32_t>(stack_group(frames, index));
      credit(sample.row, sample, index);
    } else {
      const std::uint32_t* key = key_frame_of(frames);
      sample.row = static_cast<std::uint32_t>(key == nullptr ? unknown_group() : frame_group(*key));
      credit(sample.row, sample, index);
    }
    sample.frames.assign(frames.begin(), frames.end());
    m_report.samples.push_back(std::move(sample));
  }

  // Sorts the report's rows. They are sorted where they are (a permutation applied in
  // place), as a second array of 100,000 rows would double the report's peak.
  void finish() {
    std::size_t n = m_groups.size();
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) {
      order[i] = i;
    }
    std::vector<std::uint32_t> rank = canonical_ranks();
    SortBy sort = m_options.sort;
    const std::vector<Row>& rows = m_report.rows;
    std::sort(order.begin(), order.end(), [&](std::size_t ia, std::size_t ib) {
      const Metrics& a = rows[ia].metrics;
      const Metrics& b = rows[ib].metrics;
      std::uint64_t va = sort_value(a, sort);
      std::uint64_t vb = sort_value(b, sort);
      if (va != vb) {
        return va > vb;
      }
      if (a.alloc_bytes != b.alloc_bytes) {
        return a.alloc_bytes > b.alloc_bytes;
      }
      if (m_groups[ia].identity != m_groups[ib].identity) {
        return m_groups[ia].identity < m_groups[ib].identity;
      }
      const PackedList<std::uint32_t>& fa = stack_frames(m_groups[ia]);
      const PackedList<std::uint32_t>& fb = stack_frames(m_groups[ib]);
      return std::lexicographical_compare(
          fa.begin(), fa.end(), fb.begin(), fb.end(),
          [&](std::uint32_t x, std::uint32_t y) { return rank[m_canonical_of[x]] < rank[m_canonical_of[y]]; });
    });
    // Row i of the result is row order[i]: follow each cycle of the permutation once.
    std::vector<bool> placed(n);
    for (std::size_t start = 0; start < n; ++start) {
      if (placed[start]) {
        continue;
      }
      Row held = std::move(m_report.rows[start]);
      std::size_t at = start;
      while (order[at] != start) {
        m_report.rows[at] = std::move(m_report.rows[order[at]]);
        placed[at] = true;
        at = order[at];
      }
      m_report.rows[at] = std::move(held);
      placed[at] = true;
    }
    // Samples name their row by its group until now.
    std::vector<std::uint32_t> position(n);
    for (std::size_t i = 0; i < n; ++i) {
      position[order[i]] = static_cast<std::uint32_t>(i);
    }
    for (Sample& s : m_report.samples) {
      if (s.row != Sample::no_row) {
        s.row = position[s.row];
      }
    }
    sort_modules();
  }

 private:
  static constexpr std::uint8_t allocator_class = 1;
  static constexpr std::uint8_t system_class = 2;
  static constexpr std::uint8_t entry_class = 4;
  static constexpr std::size_t none = static_cast<std::size_t>(-1);

  // What grouping needs of a row beyond the row itself (Report::rows, at the same index).
  struct Group {
    std::string identity;             // of the key (empty for stack rows: see stack_group)
    std::size_t first_sample = none;  // --by stack: its first sample, whose frames name the row
    std::uint64_t heaviest = 0;
  };

  // The frames of one return address, interned into Report::frames.
  detail::AddressMap::Run expand(std::uint64_t address, std::uint32_t generation) {
    auto [run, inserted] = m_expanded.find_or_insert(address, generation);
    if (inserted) {
      const std::vector<Frame>& frames = m_resolve(address, generation);
      *run = {static_cast<std::uint32_t>(m_report.frames.size()), static_cast<std::uint32_t>(frames.size())};
      for (const Frame& f : frames) {
        m_report.frames.push_back(f);
        m_class.push_back(static_cast<std::uint8_t>((is_allocator_frame(f) ? allocator_class : 0) |
                                                    (is_system_frame(f) ? system_class : 0) |
                                                    (is_entry_frame(f) ? entry_class : 0)));
        m_group_of.push_back(none);
        m_canonical_of.push_back(none);
        for (auto& cache : m_include) {
          cache.push_back(-1);
        }
        for (auto& cache : m_exclude) {
          cache.push_back(-1);
        }
      }
    }
    return *run;
  }

  bool matches(std::vector<std::vector<std::int8_t>>& caches, std::size_t pattern, std::uint32_t f) {
    std::int8_t& cached = caches[pattern][f];
    if (cached < 0) {
      const std::vector<std::string>& patterns = &caches == &m_include ? m_options.include : m_options.exclude;
      cached = frame_matches(m_report.frames[f], patterns[pattern]) ? 1 : 0;
    }
    return cached == 1;
  }

  bool any_frame_matches(std::vector<std::vector<std::int8_t>>& caches, std::span<const std::uint32_t> frames) {
    for (std::size_t p = 0; p < caches.size(); ++p) {
      for (std::uint32_t f : frames) {
        if (matches(caches, p, f)) {
          return true;
        }
      }
    }
    return false;
  }

  bool selected(std::span<const std::uint32_t> frames) {
    if (!m_include.empty() && !any_frame_matches(m_include, frames)) {
      return false;
    }
    return !any_frame_matches(m_exclude, frames);
  }

  const std::uint32_t* key_frame_of(std::span<const std::uint32_t> frames) const noexcept {
    for (const std::uint32_t& f : frames) {
      if ((m_class[f] & system_class) == 0) {
        return &f;
      }
    }
    return frames.empty() ? nullptr : &frames.front();
  }

  std::size_t group_for(RowKey key, std::string identity) {
    auto [it, inserted] = m_index.try_emplace(std::move(identity), m_groups.size());
    if (inserted) {
      m_groups.emplace_back().identity = it->first;
      m_report.rows.emplace_back().key = std::move(key);
    }
    return it->second;
  }

  std::size_t frame_group(std::uint32_t f) {
    if (m_group_of[f] == none) {
      RowKey key = key_for(&m_report.frames[f], m_options.by);
      std::string identity = key.identity();
      m_group_of[f] = group_for(std::move(key), std::move(identity));
    }
    return m_group_of[f];
  }

  // The summary's top modules (ReportOptions::modules), tallied in the same pass as the rows:
  // each selected site goes to its key frame's module, as `--by module` groups it. (A second
  // grouping by module cost a report of 200,000 stacks a third more time and memory.)
  void credit_module(std::span<const std::uint32_t> frames, const Metrics& metrics) {
    const std::uint32_t* key = key_frame_of(frames);
    std::size_t group = 0;
    if (key == nullptr) {
      group = module_group(nullptr);
    } else {
      if (m_module_of.size() < m_report.frames.size()) {
        m_module_of.resize(m_report.frames.size(), none);
      }
      if (m_module_of[*key] == none) {
        m_module_of[*key] = module_group(&m_report.frames[*key]);
      }
      group = m_module_of[*key];
    }
    Row& row = m_report.modules[group];
    row.metrics += metrics;
    ++row.stack_count;
  }

  std::size_t module_group(const Frame* frame) {
    RowKey key = key_for(frame, GroupBy::module);
    auto [it, inserted] = m_module_index.try_emplace(key.identity(), m_report.modules.size());
    if (inserted) {
      m_report.modules.emplace_back().key = std::move(key);
    }
    return it->second;
  }

  // By bytes allocated, then by identity: the order of a `--by module` report.
  void sort_modules() {
    std::vector<const std::string*> identity(m_report.modules.size());
    for (const auto& [name, group] : m_module_index) {
      identity[group] = &name;
    }
    std::vector<std::size_t> order(identity.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      order[i] = i;
    }
    const std::vector<Row>& rows = m_report.modules;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if (rows[a].metrics.alloc_bytes != rows[b].metrics.alloc_bytes) {
        return rows[a].metrics.alloc_bytes > rows[b].metrics.alloc_bytes;
      }
      return *identity[a] < *identity[b];
    });
    std::vector<Row> sorted;
    sorted.reserve(order.size());
    for (std::size_t i : order) {
      sorted.push_back(std::move(m_report.modules[i]));
    }
    m_report.modules = std::move(sorted);
  }

  std::size_t unknown_group() {
    RowKey key = key_for(nullptr, m_options.by);
    std::string identity = key.identity();
    return group_for(std::move(key), std::move(identity));
  }

  // Frames that print the same (the same line reached from two return addresses) are one
  // canonical frame, so a stack row is the whole symbolized stack, not its addresses.
  std::uint32_t canonical(std::uint32_t f) {
    if (m_canonical_of[f] == none) {
      const Frame& fr = m_report.frames[f];
      std::string identity = fmt::format("{}|{}|{}|{}|{:x}", fr.function, fr.file, fr.line, fr.module,
                                         fr.function.empty() && fr.file.empty() ? fr.offset : 0);
      auto [it, inserted] = m_canonical_index.try_emplace(std::move(identity), m_canonical.size());
      if (inserted) {
        m_canonical.push_back(&it->first);
      }
      m_canonical_of[f] = it->second;
    }
    return static_cast<std::uint32_t>(m_canonical_of[f]);
  }

  // The canonical frames identify a stack row (its key frame is one of them), so they alone
  // decide which row a stack joins, and rows are told apart by them when sorting too. The
  // index holds a hash of them; a group's own frames are its first sample's, so a report of
  // 100,000 stack rows keeps no second copy of its stacks.
  std::size_t stack_group(std::span<const std::uint32_t> frames, std::size_t sample) {
    std::uint64_t hash = 0x9e3779b97f4a7c15ULL;
    for (std::uint32_t f : frames) {
      hash = (hash ^ canonical(f)) * 0xff51afd7ed558ccdULL;
      hash ^= hash >> 29;
    }
    auto [begin, end] = m_stack_index.equal_range(hash);
    for (auto it = begin; it != end; ++it) {
      if (same_canonical(stack_frames(m_groups[it->second]), frames)) {
        return it->second;
      }
    }
    std::size_t g = m_groups.size();
    m_stack_index.emplace(hash, g);
    const std::uint32_t* key = key_frame_of(frames);
    m_groups.emplace_back().first_sample = sample;
    m_report.rows.emplace_back().key = key_for(key == nullptr ? nullptr : &m_report.frames[*key], GroupBy::stack);
    return g;
  }

  bool same_canonical(const PackedList<std::uint32_t>& a, std::span<const std::uint32_t> b) const noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [&](std::uint32_t x, std::uint32_t y) { return m_canonical_of[x] == m_canonical_of[y]; });
  }

  // The frames of a stack row (empty for every other row). A group is made for a sample that
  // add() then stores, before the next lookup or sort.
  const PackedList<std::uint32_t>& stack_frames(const Group& g) const noexcept {
    return g.first_sample == none ? m_no_frames : m_report.samples[g.first_sample].frames;
  }

  // The rank of each canonical frame in the order of its identity, for tie-breaking.
  std::vector<std::uint32_t> canonical_ranks() const {
    std::vector<std::uint32_t> by_name(m_canonical.size());
    for (std::uint32_t i = 0; i < by_name.size(); ++i) {
      by_name[i] = i;
    }
    std::sort(by_name.begin(), by_name.end(),
              [&](std::uint32_t a, std::uint32_t b) { return *m_canonical[a] < *m_canonical[b]; });
    std::vector<std::uint32_t> rank(m_canonical.size());
    for (std::uint32_t r = 0; r < by_name.size(); ++r) {
      rank[by_name[r]] = r;
    }
    return rank;
  }

  void credit_once(std::size_t group, const Sample& sample, std::size_t index) {
    if (std::find(m_seen.begin(), m_seen.end(), group) == m_seen.end()) {
      m_seen.push_back(group);
      credit(group, sample, index);
    }
  }

  void credit(std::size_t group, const Sample& sample, std::size_t index) {
    Group& g = m_groups[group];
    Row& row = m_report.rows[group];
    row.metrics += sample.metrics;
    ++row.stack_count;
    std::uint64_t weight = sort_value(sample.metrics, m_options.sort);
    // Sites come in stack id order, so on equal weight the lowest stack id stays.
    if (row.stack_count == 1 || weight > g.heaviest) {
      g.heaviest = weight;
      row.heaviest = index;
      row.stack_truncated = sample.truncated;
    }
  }

  const Capture& m_capture;
  const ReportOptions& m_options;
  Report& m_report;
  const FrameResolver& m_resolve;
  detail::AddressMap m_expanded;
  std::vector<std::uint8_t> m_class;                            // per frame: allocator_class | system_class
  std::vector<std::size_t> m_group_of;                          // per frame: its group when it is the key frame
  std::vector<std::size_t> m_canonical_of;                      // per frame: its canonical frame
  std::vector<std::size_t> m_module_of;                         // per frame: its module's row in Report::modules
  std::unordered_map<std::string, std::size_t> m_module_index;  // identity -> row in Report::modules
  std::vector<std::vector<std::int8_t>> m_include;              // per pattern, per frame: -1 unknown, 0, 1
  std::vector<std::vector<std::int8_t>> m_exclude;
  std::unordered_map<std::string, std::size_t> m_index;  // identity -> group
  std::vector<Group> m_groups;
  std::unordered_map<std::string, std::size_t> m_canonical_index;
  std::vector<const std::string*> m_canonical;  // canonical frame -> its identity
  std::vector<std::size_t> m_seen;
  std::unordered_multimap<std::uint64_t, std::size_t> m_stack_index;  // --by stack: hash of canonical frames -> group
  const PackedList<std::uint32_t> m_no_frames;
  std::vector<std::uint32_t> m_scratch;  // scratch space of add: one stack's frames
};

// What the rows and totals cannot know, and an error for a sort by one of those: rows sorted
// by a metric nobody measured would be a list in no order under a heading that says there is one.
void decide_unknown(Report& report) {
  const Capture& c = *report.capture;
  const ReportOptions& o = report.options;
  bool scope_view = !o.scope.empty();
  report.unknown_in_rows = c.unmeasured_in_sites();
  report.unknown_in_totals = c.unmeasured_in_totals();
  if (scope_view) {
    report.unknown_in_rows.add(Metric::peak_bytes);  // a call site has no peak of its own inside a scope
    report.unknown_in_totals.add(Metric::temporary_count);
  }
  if (o.range) {
    // Peaks and temporaries are kept for the whole run, not per interval.
    for (Metric m : {Metric::peak_bytes, Metric::temporary_count}) {
      report.unknown_in_rows.add(m);
      report.unknown_in_totals.add(m);
    }
  }
  if (scope_view || o.by == GroupBy::scope) {
    report.unknown_in_rows.add(Metric::temporary_count);  // scopes record no temporaries
  }
  Metric sorted = sort_metric(o.sort);
  if (!report.unknown_in_rows.contains(sorted)) {
    return;
  }
  std::string why;
  if (c.unmeasured_in_sites().contains(sorted)) {
    why =
        fmt::format("a {}-mode capture does not measure it per call site (exact mode does)", mode_name(c.program.mode));
  } else if (o.range) {
    why = "peaks and temporaries are kept for the whole run, not per interval of time";
  } else if (sorted == Metric::peak_bytes) {
    why = "inside a scope a call site has no peak of its own (the scope's peak is per entry)";
  } else {
    why = "scopes do not record temporary allocations";
  }
  throw UsageError(
      fmt::format("--sort {}: the rows cannot be sorted by {}: {}", sort_by_name(o.sort), metric_name(sorted), why));
}

}  // namespace

std::vector<Frame> Report::stack(const Row& row) const {
  std::vector<Frame> out;
  if (row.heaviest < samples.size()) {
    for (std::uint32_t f : samples[row.heaviest].frames) {
      out.push_back(frames[f]);
    }
  }
  return out;
}

Report build_report(const Capture& capture, const ReportOptions& options) {
  Symbolizer symbolizer(capture);
  return build_report(capture, options, symbolizer);
}

Report build_report(const Capture& capture, const ReportOptions& options, Symbolizer& symbolizer) {
  FrameResolver resolve = [&](std::uint64_t address, std::uint32_t generation) -> const std::vector<Frame>& {
    return symbolizer.resolve(address, generation);
  };
  Report report = build_report(capture, options, resolve);
  report.symbols = symbolizer.stats();
  return report;
}

Report build_report(const Capture& capture, const ReportOptions& options, const FrameResolver& resolve) {
  if (options.by == GroupBy::scope) {
    Report report = scope_report(capture, options);
    decide_unknown(report);
    return report;
  }
  Report report;
  report.options = options;
  report.capture = &capture;
  report.totals = capture.totals;
  decide_unknown(report);
  report.samples.reserve(capture.sites.size());
  {
    Grouper grouper(capture, options, report, resolve);
    for (const Site& site : capture.sites) {
      const Stack& stack = capture.stacks[site.stack];
      const Metrics& m = site.metrics;
      if ((stack.flags & stack_truncated) != 0) {
        ++report.truncated_stacks;
        report.truncated_allocations += m.alloc_count;
      }
      if ((stack.flags & stack_partial) != 0) {
        ++report.partial_stacks;
        report.partial_allocations += m.alloc_count;
      }
      if (stack.frames.empty()) {
        report.unknown_stack_allocations += m.alloc_count;
      }
      grouper.add(site);
    }
    grouper.finish();
  }
  report.shown = options.top == 0 ? report.rows.size() : std::min(options.top, report.rows.size());
  return report;
}

}  // namespace measure
