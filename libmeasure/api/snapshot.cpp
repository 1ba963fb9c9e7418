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

#include "api/api_internal.h"
#include "format/capture.h"
#include "symbols/symbolizer.h"

namespace measure {

struct Snapshot::Impl {
  std::optional<Capture> capture;  // built and destroyed untraced
  std::mutex mutex;
  bool frames_pending = false;  // taken in this process with frames elided (take_snapshot)
  ~Impl() {
    Untraced untraced;
    capture.reset();
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

// Statistic rows computed untraced, kept only until they are copied for the caller.
struct Group {
  RowKey key;
  std::vector<Frame> stack;
  std::string identity;
  Metrics metrics;
};

std::string stack_identity(const std::vector<Frame>& frames) {
  std::string id;
  for (const Frame& f : frames) {
    id += f.function;
    id += '\x1f';
    id += f.file;
    id += '\x1f';
    id += std::to_string(f.line);
    id += '\x1f';
    if (f.function.empty() && f.file.empty()) {
      id += f.module;
      id += '+';
      id += std::to_string(f.offset);
    }
    id += '\x1e';
  }
  return id;
}

std::vector<Group> group(const Capture& capture, By by, bool cumulative) {
  ReportOptions options;
  options.by = group_by(by);
  options.top = 0;
  options.cumulative = cumulative && by != By::stack;
  Report report = build_report(capture, options);
  std::vector<Group> groups;
  groups.reserve(report.rows.size());
  for (const Row& row : report.rows) {
    Group g{row.key, report.stack(row), row.key.identity(), row.metrics};
    if (by == By::stack) {
      g.identity += stack_identity(g.stack);
    }
    groups.push_back(std::move(g));
  }
  return groups;
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

std::unique_ptr<std::vector<Group>> sorted_groups(const Capture& capture, By by, bool cumulative) {
  auto groups = std::make_unique<std::vector<Group>>(group(capture, by, cumulative));
  std::sort(groups->begin(), groups->end(), [](const Group& a, const Group& b) {
    const Metrics& x = a.metrics;
    const Metrics& y = b.metrics;
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
  return groups;
}

Key public_key(const Group& g, By by) {
  return detail_access::make_key(g.key, by, public_frames(g.stack), g.identity);
}

struct Change {
  const Group* newer;  // null: gone
  const Group* older;  // null: new
  std::int64_t live_bytes_diff, live_count_diff, alloc_bytes_diff, alloc_count_diff;
  const Group& any() const { return newer != nullptr ? *newer : *older; }
};

}  // namespace

std::vector<Statistic> Snapshot::statistics(By by, bool cumulative) const {
  if (!m_impl || !m_impl->capture) {
    return {};
  }
  std::lock_guard<std::mutex> lock(m_impl->mutex);
  Untraced untraced;
  auto groups = sorted_groups(m_impl->complete(), by, cumulative);
  untraced.pause();
  std::vector<Statistic> out;
  out.reserve(groups->size());
  for (const Group& g : *groups) {
    out.push_back(Statistic{public_key(g, by), g.metrics.live_bytes, g.metrics.live_count, g.metrics.alloc_bytes,
                            g.metrics.alloc_count});
  }
  untraced.resume();
  groups.reset();
  return out;
}

std::vector<StatisticDiff> Snapshot::compare_to(const Snapshot& older, By by, bool cumulative) const {
  Capture empty;
  std::unique_lock<std::mutex> lock_new;
  std::unique_lock<std::mutex> lock_old;
  if (m_impl) {
    lock_new = std::unique_lock<std::mutex>(m_impl->mutex);
  }
  if (older.m_impl && older.m_impl != m_impl) {
    lock_old = std::unique_lock<std::mutex>(older.m_impl->mutex);
  }
  Untraced untraced;
  const Capture& newer_capture = m_impl && m_impl->capture ? m_impl->complete() : empty;
  const Capture& older_capture = older.m_impl && older.m_impl->capture ? older.m_impl->complete() : empty;
  auto newer_groups = sorted_groups(newer_capture, by, cumulative);
  auto older_groups = sorted_groups(older_capture, by, cumulative);
  auto by_identity = std::make_unique<std::map<std::string, const Group*>>();
  for (const Group& g : *older_groups) {
    by_identity->emplace(g.identity, &g);
  }
  auto changes = std::make_unique<std::vector<Change>>();
  auto diff = [](const Metrics& n, const Metrics& o, const Group* newer, const Group* old) {
    return Change{newer,
                  old,
                  signed_diff(n.live_bytes, o.live_bytes),
                  signed_diff(n.live_count, o.live_count),
                  signed_diff(n.alloc_bytes, o.alloc_bytes),
                  signed_diff(n.alloc_count, o.alloc_count)};
  };
  for (const Group& g : *newer_groups) {
    auto it = by_identity->find(g.identity);
    const Group* old = it != by_identity->end() ? it->second : nullptr;
    changes->push_back(diff(g.metrics, old != nullptr ? old->metrics : Metrics{}, &g, old));
    if (old != nullptr) {
      by_identity->erase(it);
    }
  }
  for (const auto& [identity, old] : *by_identity) {
    changes->push_back(diff(Metrics{}, old->metrics, nullptr, old));
  }
  std::sort(changes->begin(), changes->end(), [](const Change& a, const Change& b) {
    std::uint64_t live_a = a.newer != nullptr ? a.newer->metrics.live_bytes : 0;
    std::uint64_t live_b = b.newer != nullptr ? b.newer->metrics.live_bytes : 0;
    std::uint64_t count_a = a.newer != nullptr ? a.newer->metrics.live_count : 0;
    std::uint64_t count_b = b.newer != nullptr ? b.newer->metrics.live_count : 0;
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
  for (const Change& c : *changes) {
    Metrics now = c.newer != nullptr ? c.newer->metrics : Metrics{};
    out.push_back(StatisticDiff{public_key(c.any(), by), now.live_bytes, now.live_count, now.alloc_bytes,
                                now.alloc_count, c.live_bytes_diff, c.live_count_diff, c.alloc_bytes_diff,
                                c.alloc_count_diff});
  }
  untraced.resume();
  changes.reset();
  by_identity.reset();
  older_groups.reset();
  newer_groups.reset();
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
  Symbolizer symbolizer(c);
  std::vector<Site> kept;
  Metrics totals;
  for (const Site& site : c.sites) {
    if (passes(filters, symbolized_stack(c.stacks[site.stack], symbolizer))) {
      kept.push_back(site);
      totals += site.metrics;
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
