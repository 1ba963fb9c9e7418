// Named snapshot scopes in reports: a capture restricted to one scope (--scope NAME), and
// one row per scope (--by scope).
#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "report/report.h"
#include "support/error.h"

namespace measure {
namespace {

const ScopeRecord& find_scope(const Capture& capture, const std::string& name) {
  for (const ScopeRecord& s : capture.scopes) {
    if (s.name == name) {
      return s;
    }
  }
  std::vector<std::string> names;
  for (const ScopeRecord& s : capture.scopes) {
    names.push_back(s.name);
  }
  if (names.empty()) {
    throw UsageError(fmt::format("--scope {}: this capture has no named scopes", name));
  }
  throw UsageError(
      fmt::format("--scope {}: no scope of that name (this capture has: {})", name, fmt::join(names, ", ")));
}

Metrics scope_metrics(const ScopeRecord& s) noexcept {
  Metrics m;
  m.alloc_count = s.alloc_count;
  m.alloc_bytes = s.alloc_bytes;
  m.free_count = s.free_count;
  m.freed_bytes = s.freed_bytes;
  m.live_count = detail::floor_difference(s.alloc_count, s.free_count);
  m.live_bytes = s.net_bytes > 0 ? static_cast<std::uint64_t>(s.net_bytes) : 0;
  m.peak_bytes = s.peak_max;
  return m;
}

}  // namespace

Capture restrict_to_scope(const Capture& capture, const std::string& name) {
  const ScopeRecord& scope = find_scope(capture, name);
  Capture view = detail::capture_view(capture);
  view.scopes = {scope};
  for (const ScopeSiteCounts& c : scope.sites) {
    Site site;
    site.stack = c.stack;
    site.metrics.alloc_count = c.alloc_count;
    site.metrics.alloc_bytes = c.alloc_bytes;
    site.metrics.free_count = c.free_count;
    site.metrics.freed_bytes = c.freed_bytes;
    site.metrics.live_count = detail::floor_difference(c.alloc_count, c.free_count);
    site.metrics.live_bytes = detail::floor_difference(c.alloc_bytes, c.freed_bytes);
    view.sites.push_back(site);
  }
  view.totals = scope_metrics(scope);
  return view;
}

Report scope_report(const Capture& capture, const ReportOptions& options) {
  Report report;
  report.options = options;
  report.capture = &capture;
  report.totals = capture.totals;
  for (const ScopeRecord& s : capture.scopes) {
    if (!options.include.empty() || !options.exclude.empty()) {
      throw UsageError("--by scope: --include and --exclude select call stacks, not scopes");
    }
    Row row;
    row.key.scope = s.name;
    row.metrics = scope_metrics(s);
    row.entries = s.entries;
    row.stack_count = s.sites.size();
    report.selected += row.metrics;
    report.rows.push_back(std::move(row));
  }
  std::stable_sort(report.rows.begin(), report.rows.end(), [&](const Row& a, const Row& b) {
    std::uint64_t x = sort_value(a.metrics, options.sort);
    std::uint64_t y = sort_value(b.metrics, options.sort);
    return x != y ? x > y : *a.key.scope < *b.key.scope;
  });
  report.shown = options.top == 0 ? report.rows.size() : std::min(options.top, report.rows.size());
  return report;
}

Metrics per_entry(const Metrics& t, std::uint64_t entries) noexcept {
  if (entries == 0) {
    return t;
  }
  auto avg = [&](std::uint64_t v) { return (v + entries / 2) / entries; };
  Metrics m;
  m.alloc_count = avg(t.alloc_count);
  m.alloc_bytes = avg(t.alloc_bytes);
  m.free_count = avg(t.free_count);
  m.freed_bytes = avg(t.freed_bytes);
  m.live_count = avg(t.live_count);
  m.live_bytes = avg(t.live_bytes);
  m.peak_bytes = t.peak_bytes;  // already the largest peak of one entry
  m.temporary_count = avg(t.temporary_count);
  return m;
}

}  // namespace measure
