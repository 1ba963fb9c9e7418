// Scopes and the testing helpers built on them.
#include <algorithm>
#include <cstddef>
#include <memory>

#include <fmt/format.h>

#include "api/api_internal.h"
#include "report/formats.h"
#include "symbols/process_modules.h"

namespace measure {

/// A closed scope's call sites, as the runtime copied them (toolkit memory).
struct ScopeStats::Sites {
  measure_rt_site* sites;
  std::uint32_t count;
  Sites(measure_rt_site* s, std::uint32_t n) noexcept : sites(s), count(n) {}
  ~Sites() { rt().release_sites(sites, count); }
  Sites(const Sites&) = delete;
  Sites& operator=(const Sites&) = delete;
};

namespace {

// The runtime answering may predate scopes that end themselves (a preloaded runtime of an
// older build): its scopes then pair by nesting, as the C API's do.
bool has_scope_identity(const measure_rt_interface& runtime) noexcept {
  return runtime.size >= offsetof(measure_rt_interface, scope_close) + sizeof(runtime.scope_close);
}

bool has_thread_groups(const measure_rt_interface& runtime) noexcept {
  return runtime.size >= offsetof(measure_rt_interface, scope_open_threads) + sizeof(runtime.scope_open_threads);
}

ScopeStatus status_of(int code) noexcept {
  switch (code) {
    case measure_rt_scope_ok:
      return ScopeStatus::measured;
    case measure_rt_scope_too_deep:
      return ScopeStatus::too_deep;
    case measure_rt_scope_other_thread:
      return ScopeStatus::other_thread;
    default:
      return ScopeStatus::not_tracing;
  }
}

}  // namespace

const char* to_string(ScopeStatus status) noexcept {
  switch (status) {
    case ScopeStatus::measured:
      return "measured";
    case ScopeStatus::not_tracing:
      return "allocations are not traced (MEASURE_MODE=off, or the program does not link measure)";
    case ScopeStatus::too_deep:
      return "nothing was measured: 32 scopes were already open on the thread";
    case ScopeStatus::other_thread:
      return "nothing was measured: the scope ended on a thread other than the one that opened it";
  }
  return "nothing was measured";
}

Scope::Scope(std::string_view name, Threads threads) noexcept : m_name(name) {
  const measure_rt_interface& runtime = rt();
  const char* text = name.empty() ? "" : name.data();
  if (threads == Threads::started && !has_thread_groups(runtime)) {
    m_opened = ScopeStatus::not_tracing;  // the runtime answering cannot count started threads
  } else if (has_scope_identity(runtime)) {
    measure_rt_scope handle{};
    m_opened = status_of(threads == Threads::started ? runtime.scope_open_threads(text, name.size(), &handle)
                                                     : runtime.scope_open(text, name.size(), &handle));
    m_owner = handle.owner;
    m_serial = handle.serial;
    m_threads = handle.group != 0;
  } else {
    // A scope that could not be opened pushes a placeholder in the runtime, so end() is
    // always paired with this call.
    m_opened = runtime.scope_begin(text, name.size()) != 0 ? ScopeStatus::measured : ScopeStatus::not_tracing;
  }
  m_open = true;
}

Scope::~Scope() {
  if (!m_open) {
    return;
  }
  // Nobody reads the results: only the runtime's side is closed.
  const measure_rt_interface& runtime = rt();
  measure_scope_totals_t ignored;
  if (!has_scope_identity(runtime)) {
    runtime.scope_end(&ignored, nullptr, nullptr);
  } else if (m_opened == ScopeStatus::measured) {
    measure_rt_scope handle{m_owner, m_serial, m_threads ? 1U : 0U};
    runtime.scope_close(&handle, &ignored, nullptr, nullptr);
  }
}

const ScopeStats& Scope::end() {
  if (!m_open) {
    return m_stats;
  }
  m_open = false;
  const measure_rt_interface& runtime = rt();
  measure_scope_totals_t t{};
  measure_rt_site* sites = nullptr;
  std::uint32_t count = 0;
  ScopeStatus status = m_opened;
  if (!has_scope_identity(runtime)) {
    runtime.scope_end(&t, &sites, &count);
  } else if (m_opened == ScopeStatus::measured) {
    measure_rt_scope handle{m_owner, m_serial, m_threads ? 1U : 0U};
    status = status_of(runtime.scope_close(&handle, &t, &sites, &count));
  }
  m_stats.status = status;
  if (status != ScopeStatus::measured) {
    return m_stats;
  }
  m_stats.alloc_count = t.alloc_count;
  m_stats.alloc_bytes = t.alloc_bytes;
  m_stats.free_count = t.free_count;
  m_stats.freed_bytes = t.freed_bytes;
  m_stats.live_count = t.live_count;
  m_stats.live_bytes = t.live_bytes;
  m_stats.peak_bytes = t.peak_bytes;
  m_stats.peak_count = 0;
  for (std::uint32_t i = 0; sites != nullptr && i < count; ++i) {
    m_stats.peak_count += sites[i].peak_count;  // what each site held when the scope's bytes peaked
  }
  if (sites != nullptr) {
    m_stats.m_sites =
        std::allocate_shared<const ScopeStats::Sites>(ToolkitAllocator<ScopeStats::Sites>(), sites, count);
  }
  return m_stats;
}

namespace {

struct SymbolizedSite {
  const measure_rt_site* site;
  std::vector<Frame> frames;
};

// Symbolizes the sites selected by `keep`, ordered by `before`. Untraced inside; the result
// is built in the caller's memory.
template <class Keep, class Before>
std::vector<ScopeSite> symbolize(const measure_rt_site* sites, std::uint32_t count, Keep keep, Before before) {
  if (sites == nullptr || count == 0) {
    return {};
  }
  Untraced untraced;
  auto chosen = std::make_unique<std::vector<SymbolizedSite>>();
  {
    Capture capture;
    capture.modules = loaded_modules();
    std::shared_ptr<SymbolFiles> files = shared_symbol_files();
    std::lock_guard<std::mutex> lock(symbolization_mutex());
    Symbolizer symbolizer(capture, files.get());
    for (std::uint32_t i = 0; i < count; ++i) {
      if (!keep(sites[i])) {
        continue;
      }
      Stack stack;
      runtime_frames(sites[i].stack, &stack.frames);
      chosen->push_back(SymbolizedSite{&sites[i], symbolized_stack(stack, symbolizer)});
    }
  }
  std::sort(chosen->begin(), chosen->end(),
            [&](const SymbolizedSite& a, const SymbolizedSite& b) { return before(*a.site, *b.site); });
  untraced.pause();
  std::vector<ScopeSite> out;
  out.reserve(chosen->size());
  for (const SymbolizedSite& c : *chosen) {
    const measure_rt_site& r = *c.site;
    out.push_back(ScopeSite{public_frames(c.frames), r.alloc_count, r.alloc_bytes, r.free_count, r.freed_bytes,
                            r.net_bytes, r.peak_bytes});
  }
  untraced.resume();
  chosen.reset();
  return out;
}

}  // namespace

std::vector<ScopeSite> ScopeStats::sites() const {
  if (!m_sites) {
    return {};
  }
  return symbolize(
      m_sites->sites, m_sites->count, [](const measure_rt_site&) { return true; },
      [](const measure_rt_site& a, const measure_rt_site& b) {
        if (a.alloc_bytes != b.alloc_bytes)
          return a.alloc_bytes > b.alloc_bytes;
        if (a.alloc_count != b.alloc_count)
          return a.alloc_count > b.alloc_count;
        return a.stack < b.stack;
      });
}

std::vector<ScopeSite> ScopeStats::sites_at_peak() const {
  if (!m_sites) {
    return {};
  }
  return symbolize(
      m_sites->sites, m_sites->count, [](const measure_rt_site& s) { return s.peak_bytes > 0; },
      [](const measure_rt_site& a, const measure_rt_site& b) {
        if (a.peak_bytes != b.peak_bytes)
          return a.peak_bytes > b.peak_bytes;
        return a.stack < b.stack;
      });
}

std::string ScopeStats::describe(std::size_t max_sites) const {
  if (!measured()) {
    return to_string(status);
  }
  std::string out = fmt::format(
      "{} allocation{} ({}), {} free{} ({}), net {}{}, peak {}", grouped(alloc_count), alloc_count == 1 ? "" : "s",
      human_bytes(alloc_bytes), grouped(free_count), free_count == 1 ? "" : "s", human_bytes(freed_bytes),

      live_bytes < 0 ? "-" : "+", human_bytes(static_cast<std::uint64_t>(std::llabs(live_bytes))),
      human_bytes(peak_bytes));
  if (max_sites == 0) {
    return out;
  }
  std::vector<ScopeSite> all = sites();
  std::size_t shown = 0;
  for (const ScopeSite& site : all) {
    if (site.alloc_count == 0) {
      continue;  // only frees here: not what a reader looks for
    }
    if (shown++ == max_sites) {
      out += fmt::format("\n  ... and {} more call sites", all.size() - max_sites);
      break;
    }
    out += fmt::format("\n  {} × {} ", grouped(site.alloc_count), human_bytes(site.alloc_bytes));
    std::vector<Frame> frames = internal_frames(site.stack);
    const Frame* key = key_frame(frames);
    if (key == nullptr) {
      out += "(unknown stack)";
      continue;
    }
    out += fmt::format("at {}", describe_frame(*key, true));
    auto index = static_cast<std::size_t>(key - frames.data());
    for (std::size_t i = index + 1; i < frames.size() && i < index + 3 && frames[i - 1].function != "main"; ++i) {
      out += fmt::format("\n      from {}", describe_frame(frames[i], true));
    }
  }
  return out;
}

}  // namespace measure
