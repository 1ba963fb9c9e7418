// Snapshots: the runtime encodes its state as a capture in memory, the library decodes it
// into the same model `measure report` uses, and statistics are reports of that model.
#include <fnmatch.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "api/api_internal.h"
#include "format/capture.h"
#include "support/hash.h"
#include "symbols/symbol_file.h"
#include "symbols/symbolizer.h"

namespace measure {

struct Snapshot::Impl {
  std::optional<Capture> capture;  // built and destroyed untraced
  std::mutex mutex;
  bool frames_pending = false;  // taken in this process with frames elided (take_snapshot)
  // Made on first use and kept, so a second report of the snapshot resolves no address
  // twice; the files it reads are shared with every other live snapshot (shared_symbol_files).
  std::shared_ptr<SymbolFiles> files;
  std::unique_ptr<Symbolizer> symbolizer;
  ~Impl() {
    Untraced untraced;
    symbolizer.reset();
    files.reset();
    capture.reset();
  }
  /// The snapshot's symbolizer. pre: `mutex` held, inside Untraced, complete() called; the
  /// caller holds symbolization_mutex() while using it (the files are shared).
  Symbolizer& symbols() {
    if (!symbolizer) {
      files = shared_symbol_files();
      symbolizer = std::make_unique<Symbolizer>(*capture, files.get());
    }
    return *symbolizer;
  }
  /// The capture with every stack's frames, fetched from this process's stack table the
  /// first time they are needed. pre: `mutex` held, inside Untraced.
  const Capture& complete() {
    if (frames_pending) {
      for (std::size_t id = 0; id < capture->stacks.size(); ++id) {
        Stack& stack = capture->stacks[id];
        if ((stack.flags & stack_elided) != 0 && runtime_frames(static_cast<std::uint32_t>(id), &stack.frames)) {
          stack.flags &= ~stack_elided;
        }
      }
      frames_pending = false;
    }
    return *capture;
  }
};

namespace {

// Statistic rows computed untraced, kept only until they are copied for the caller. A row's
// stack stays in the report it came from (its heaviest sample's frame indices).
struct Group {
  const Row* row;  // in the report the group came from
  std::string identity;
  const Metrics& metrics() const noexcept { return row->metrics; }
};

// Whether the group holds blocks live in its snapshot (what Rows::live keeps).
bool has_live(const Group& g) noexcept {
  return g.metrics().live_count != 0 || g.metrics().live_bytes != 0;
}

struct Grouped {
  Report report;
  std::vector<Group> groups;
};

// A frame as a stack's identity sees it: what names the code, stable across builds (an
// address only where nothing else names it).
std::uint64_t frame_identity_hash(const Frame& f, std::uint64_t seed) {
  std::string id = f.function;
  id += '\x1f';
  id += f.file;
  id += '\x1f';
  id += std::to_string(f.line);
  if (f.function.empty() && f.file.empty()) {
    id += '\x1f';
    id += f.module;
    id += '+';
    id += std::to_string(f.offset);
  }
  return std::hash<std::string>()(id) ^ detail::mix64(seed);
}

// The identity of a whole stack: two independent 64-bit hashes of its frames in order, as
// hex (a row of a stack 40 frames deep would otherwise carry kilobytes of names).
std::string stack_identity(const Sample& sample, const std::vector<std::uint64_t>& first,
                           const std::vector<std::uint64_t>& second) {
  std::uint64_t a = 0x243f6a8885a308d3ULL;
  std::uint64_t b = 0x13198a2e03707344ULL;
  for (std::uint32_t f : sample.frames) {
    a = detail::mix64(a ^ first[f]);
    b = detail::mix64(b + second[f]);
  }
  return fmt::format("{:016x}{:016x}", a, b);
}

std::unique_ptr<Grouped> group(const Capture& capture, Symbolizer& symbolizer, By by, bool cumulative) {
  ReportOptions options;
  options.by = group_by(by);
  options.top = 0;
  options.cumulative = cumulative && by != By::stack;
  auto grouped = std::make_unique<Grouped>(Grouped{build_report(capture, options, symbolizer), {}});
  const Report& report = grouped->report;
  std::vector<std::uint64_t> first;
  std::vector<std::uint64_t> second;
  if (by == By::stack) {
    first.reserve(report.frames.size());
    second.reserve(report.frames.size());
    for (const Frame& f : report.frames) {
      first.push_back(frame_identity_hash(f, 1));
      second.push_back(frame_identity_hash(f, 2));
    }
  }
  grouped->groups.reserve(report.rows.size());
  for (const Row& row : report.rows) {
    // A stack's row is named by its frames alone (its key is its innermost own frame's).
    grouped->groups.push_back(Group{&row, by == By::stack && row.heaviest < report.samples.size()
                                              ? stack_identity(report.samples[row.heaviest], first, second)
                                              : row.key.identity()});
  }
  return grouped;
}

bool field_matches(const std::string& value, const std::string& pattern, bool path) {
  if (value.empty()) {
    return false;
  }
  if (::fnmatch(pattern.c_str(), value.c_str(), 0) == 0) {
    return true;
  }
  auto slash = value.rfind('/');
  return path && slash != std::string::npos && ::fnmatch(pattern.c_str(), value.c_str() + slash + 1, 0) == 0;
}

bool filter_matches(const Filter& filter, const Frame& f) {
  switch (filter.field) {
    case FilterField::function:
      return field_matches(f.function, filter.pattern, false);
    case FilterField::file:
      return field_matches(f.file, filter.pattern, true);
    case FilterField::module:
      return field_matches(f.module, filter.pattern, true);
    case FilterField::any:
      return field_matches(f.function, filter.pattern, false) || field_matches(f.file, filter.pattern, true) ||
             field_matches(f.module, filter.pattern, true);
  }
  return false;
}

bool passes(const std::vector<Filter>& filters, const std::vector<Frame>& frames) {
  const Frame* key = key_frame(frames);
  auto matches = [&](const Filter& filter) {
    if (filter.all_frames) {
      return std::any_of(frames.begin(), frames.end(), [&](const Frame& f) { return filter_matches(filter, f); });
    }
    return key != nullptr && filter_matches(filter, *key);
  };
  bool any_inclusive = false;
  bool included = false;
  for (const Filter& f : filters) {
    if (f.inclusive) {
      any_inclusive = true;
      included = included || matches(f);
    } else if (matches(f)) {
      return false;
    }
  }
  return !any_inclusive || included;
}

std::int64_t signed_diff(std::uint64_t newer, std::uint64_t older) {
  return static_cast<std::int64_t>(newer) - static_cast<std::int64_t>(older);
}

std::uint64_t magnitude(std::int64_t v) {
  return v < 0 ? static_cast<std::uint64_t>(-v) : static_cast<std::uint64_t>(v);
}

// Runs `f` untraced, turning any error into one std::runtime_error thrown after the
// untraced section (an exception object must not cross it: it would be freed traced).
template <class F>
void untraced_or_throw(F f) {
  char message[1024] = {};
  {
    Untraced untraced;
    try {
      f();
    } catch (const std::exception& e) {
      std::strncpy(message, e.what(), sizeof message - 1);
    }
  }
  if (message[0] != '\0') {
    throw std::runtime_error(message);
  }
}

}  // namespace

Snapshot::Snapshot(std::shared_ptr<Impl> impl) noexcept : m_impl(std::move(impl)) {}

Snapshot::Snapshot(const Snapshot& other) : m_impl(other.m_impl) {}

Snapshot& Snapshot::operator=(const Snapshot& other) {
  if (this == &other) {
    return *this;
  }
  Untraced untraced;  // may release the last reference
  m_impl = other.m_impl;
  return *this;
}

Snapshot& Snapshot::operator=(Snapshot&& other) noexcept {
  Untraced untraced;
  m_impl = std::move(other.m_impl);
  return *this;
}

Snapshot::~Snapshot() {
  Untraced untraced;
  m_impl.reset();
}

Snapshot take_snapshot() {
  void* handle = nullptr;
  const unsigned char* data = nullptr;
  std::size_t size = 0;
  if (rt().snapshot(&handle, &data, &size) == 0) {
    return Snapshot();
  }
  std::shared_ptr<Snapshot::Impl> impl;
  {
    Untraced untraced;
    impl = std::allocate_shared<Snapshot::Impl>(ToolkitAllocator<Snapshot::Impl>());
    try {
      impl->capture = parse_capture({data, size}, "snapshot");
      impl->frames_pending = true;
    } catch (const std::exception&) {
      impl.reset();  // the runtime encoded something its own reader rejects: report nothing
    }
    rt().release_snapshot(handle);
  }
  return impl ? Snapshot(std::move(impl)) : Snapshot();
}

namespace {

std::unique_ptr<Grouped> sorted_groups(const Capture& capture, Symbolizer& symbolizer, By by, bool cumulative) {
  std::unique_ptr<Grouped> grouped = group(capture, symbolizer, by, cumulative);
  std::sort(grouped->groups.begin(), grouped->groups.end(), [](const Group& a, const Group& b) {
    const Metrics& x = a.metrics();
    const Metrics& y = b.metrics();
    if (x.live_bytes != y.live_bytes)
      return x.live_bytes > y.live_bytes;
    if (x.live_count != y.live_count)
      return x.live_count > y.live_count;
    if (x.alloc_bytes != y.alloc_bytes)
      return x.alloc_bytes > y.alloc_bytes;
    if (x.alloc_count != y.alloc_count)
      return x.alloc_count > y.alloc_count;
    return a.identity < b.identity;
  });
  return grouped;
}

// The report's frames as the caller's StackFrames, shared by every key made from it.
// pre: traced (the caller's memory).
std::shared_ptr<const std::vector<StackFrame>> public_frame_table(const Report& report) {
  return std::make_shared<const std::vector<StackFrame>>(public_frames(report.frames));
}

Key public_key(const Group& g, By by, const Report& report,
               const std::shared_ptr<const std::vector<StackFrame>>& table) {
  std::vector<std::uint32_t> frames;
  if (g.row->heaviest < report.samples.size()) {
    report.samples[g.row->heaviest].frames.decode(frames);
  }
  return detail_access::make_key(g.row->key, by, table, std::move(frames), g.identity);
}

// Frees what public_key() copied from `g`'s row, once the copy is made, so the copies reuse
// the report's memory instead of adding to it. `samples_shared`: a sample may be the heaviest
// of several rows (a cumulative report), so its frames stay. pre: untraced (the report's memory).
void release_copied(Grouped& grouped, Group& g, bool samples_shared) {
  Row& row = grouped.report.rows[static_cast<std::size_t>(g.row - grouped.report.rows.data())];
  row.key = RowKey{};
  if (!samples_shared && row.heaviest < grouped.report.samples.size()) {
    grouped.report.samples[row.heaviest].frames.clear();
  }
  std::string().swap(g.identity);
}

struct Change {
  Group* newer;  // null: gone
  Group* older;  // null: new
  std::int64_t live_bytes_diff, live_count_diff, alloc_bytes_diff, alloc_count_diff;
  const Group& any() const { return newer != nullptr ? *newer : *older; }
};

}  // namespace

std::vector<Statistic> Snapshot::statistics(By by, bool cumulative, Rows rows) const {
  if (!m_impl || !m_impl->capture) {
    return {};
  }
  std::lock_guard<std::mutex> lock(m_impl->mutex);
  Untraced untraced;
  std::unique_ptr<Grouped> grouped;
  {
    const Capture& capture = m_impl->complete();
    std::lock_guard<std::mutex> symbols(symbolization_mutex());
    grouped = sorted_groups(capture, m_impl->symbols(), by, cumulative);
  }
  untraced.pause();
  std::vector<Statistic> out;
  auto wanted = [&](const Group& g) { return rows == Rows::all || has_live(g); };
  out.reserve(static_cast<std::size_t>(std::count_if(grouped->groups.begin(), grouped->groups.end(), wanted)));
  auto table = public_frame_table(grouped->report);
  for (Group& g : grouped->groups) {
    if (!wanted(g)) {
      continue;
    }
    out.push_back(Statistic{public_key(g, by, grouped->report, table), g.metrics().live_bytes, g.metrics().live_count,
                            g.metrics().alloc_bytes, g.metrics().alloc_count});
    untraced.resume();
    release_copied(*grouped, g, cumulative && by != By::stack);
    untraced.pause();
  }
  untraced.resume();
  grouped.reset();
  return out;
}

std::vector<StatisticDiff> Snapshot::compare_to(const Snapshot& older, By by, bool cumulative, Rows rows) const {
  std::unique_lock<std::mutex> lock_new;
  std::unique_lock<std::mutex> lock_old;
  if (m_impl) {
    lock_new = std::unique_lock<std::mutex>(m_impl->mutex);
  }
  if (older.m_impl && older.m_impl != m_impl) {
    lock_old = std::unique_lock<std::mutex>(older.m_impl->mutex);
  }
  Untraced untraced;
  auto empty = std::make_unique<Impl>();
  empty->capture.emplace();
  Impl& newer_impl = m_impl && m_impl->capture ? *m_impl : *empty;
  Impl& older_impl = older.m_impl && older.m_impl->capture ? *older.m_impl : *empty;
  std::unique_ptr<Grouped> newer_groups;
  std::unique_ptr<Grouped> older_groups;
  {
    const Capture& newer_capture = newer_impl.complete();
    const Capture& older_capture = older_impl.complete();
    std::lock_guard<std::mutex> symbols(symbolization_mutex());
    newer_groups = sorted_groups(newer_capture, newer_impl.symbols(), by, cumulative);
    older_groups = sorted_groups(older_capture, older_impl.symbols(), by, cumulative);
  }
  auto by_identity = std::make_unique<std::map<std::string, Group*>>();
  for (Group& g : older_groups->groups) {
    by_identity->emplace(g.identity, &g);
  }
  auto changes = std::make_unique<std::vector<Change>>();
  auto diff = [](const Metrics& n, const Metrics& o, Group* newer, Group* old) {
    return Change{newer,
                  old,
                  signed_diff(n.live_bytes, o.live_bytes),
                  signed_diff(n.live_count, o.live_count),
                  signed_diff(n.alloc_bytes, o.alloc_bytes),
                  signed_diff(n.alloc_count, o.alloc_count)};
  };
  auto live = [](const Group* g) { return g != nullptr && has_live(*g); };
  for (Group& g : newer_groups->groups) {
    auto it = by_identity->find(g.identity);
    Group* old = it != by_identity->end() ? it->second : nullptr;
    if (rows == Rows::all || live(&g) || live(old)) {
      changes->push_back(diff(g.metrics(), old != nullptr ? old->metrics() : Metrics{}, &g, old));
    }
    if (old != nullptr) {
      by_identity->erase(it);
    }
  }
  for (const auto& [identity, old] : *by_identity) {
    if (rows == Rows::all || live(old)) {
      changes->push_back(diff(Metrics{}, old->metrics(), nullptr, old));
    }
  }
  std::sort(changes->begin(), changes->end(), [](const Change& a, const Change& b) {
    std::uint64_t live_a = a.newer != nullptr ? a.newer->metrics().live_bytes : 0;
    std::uint64_t live_b = b.newer != nullptr ? b.newer->metrics().live_bytes : 0;
    std::uint64_t count_a = a.newer != nullptr ? a.newer->metrics().live_count : 0;
    std::uint64_t count_b = b.newer != nullptr ? b.newer->metrics().live_count : 0;
    if (magnitude(a.live_bytes_diff) != magnitude(b.live_bytes_diff)) {
      return magnitude(a.live_bytes_diff) > magnitude(b.live_bytes_diff);
    }
    if (live_a != live_b)
      return live_a > live_b;
    if (magnitude(a.live_count_diff) != magnitude(b.live_count_diff)) {
      return magnitude(a.live_count_diff) > magnitude(b.live_count_diff);
    }
    if (count_a != count_b)
      return count_a > count_b;
    return a.any().identity < b.any().identity;
  });
  untraced.pause();
  std::vector<StatisticDiff> out;
  out.reserve(changes->size());
  auto newer_table = public_frame_table(newer_groups->report);
  auto older_table = public_frame_table(older_groups->report);
  for (const Change& c : *changes) {
    Metrics now = c.newer != nullptr ? c.newer->metrics() : Metrics{};
    Key key = c.newer != nullptr ? public_key(*c.newer, by, newer_groups->report, newer_table)
                                 : public_key(*c.older, by, older_groups->report, older_table);
    out.push_back(StatisticDiff{std::move(key), now.live_bytes, now.live_count, now.alloc_bytes, now.alloc_count,
                                c.live_bytes_diff, c.live_count_diff, c.alloc_bytes_diff, c.alloc_count_diff});
    untraced.resume();
    release_copied(c.newer != nullptr ? *newer_groups : *older_groups, c.newer != nullptr ? *c.newer : *c.older,
                   cumulative && by != By::stack);
    untraced.pause();
  }
  untraced.resume();
  changes.reset();
  by_identity.reset();
  older_groups.reset();
  newer_groups.reset();
  empty.reset();
  return out;
}

Snapshot Snapshot::filter(const std::vector<Filter>& filters) const {
  if (!m_impl || !m_impl->capture) {
    return Snapshot();
  }
  std::lock_guard<std::mutex> lock(m_impl->mutex);
  Untraced untraced;
  auto impl = std::allocate_shared<Impl>(ToolkitAllocator<Impl>());
  impl->capture = m_impl->complete();
  Capture& c = *impl->capture;
  std::vector<Site> kept;
  Metrics totals;
  {
    std::lock_guard<std::mutex> symbols(symbolization_mutex());
    Symbolizer& symbolizer = m_impl->symbols();  // the same modules and stacks as the copy
    for (const Site& site : c.sites) {
      if (passes(filters, symbolized_stack(c.stacks[site.stack], symbolizer))) {
        kept.push_back(site);
        totals += site.metrics;
      }
    }
  }
  totals.peak_bytes = c.totals.peak_bytes;
  c.sites = std::move(kept);
  c.totals = totals;
  return Snapshot(std::move(impl));
}

void Snapshot::dump(const std::string& path) const {
  if (!m_impl || !m_impl->capture) {
    untraced_or_throw([&] { write_capture(Capture{}, path); });
    return;
  }
  std::lock_guard<std::mutex> lock(m_impl->mutex);
  untraced_or_throw([&] { write_capture(m_impl->complete(), path); });
}

Snapshot Snapshot::load(const std::string& path) {
  std::shared_ptr<Impl> impl;
  untraced_or_throw([&] {
    auto loaded = std::allocate_shared<Impl>(ToolkitAllocator<Impl>());  // freed here if reading fails
    loaded->capture = read_capture(path);
    impl = std::move(loaded);
  });
  return Snapshot(std::move(impl));
}

TracedMemory Snapshot::traced_memory() const noexcept {
  if (!m_impl || !m_impl->capture) {
    return {0, 0};
  }
  return {m_impl->capture->totals.live_bytes, m_impl->capture->totals.peak_bytes};
}

std::size_t Snapshot::size() const noexcept {
  return m_impl && m_impl->capture ? m_impl->capture->sites.size() : 0;
}

}  // namespace measure
