#include "threads/scopes.h"

#include <cstring>

#include "platform/platform.h"
#include "support/hash.h"
#include "support/internal_alloc.h"

namespace measure::detail {

// ---- ScopeSiteTable ---------------------------------------------------------------------

bool ScopeSiteTable::grow() noexcept {
  std::uint32_t capacity = m_capacity == 0 ? 16 : m_capacity * 2;
  auto* slots = static_cast<ScopeSite*>(internal_alloc(sizeof(ScopeSite) * capacity));
  if (slots == nullptr) {
    return false;
  }
  std::uint32_t mask = capacity - 1;
  for (std::uint32_t i = 0; i < m_capacity; ++i) {
    const ScopeSite& e = m_slots[i];
    if (e.generation != m_generation) {
      continue;
    }
    std::uint32_t j = static_cast<std::uint32_t>(mix64(e.stack)) & mask;
    while (slots[j].generation == m_generation) {
      j = (j + 1) & mask;
    }
    slots[j] = e;
  }
  internal_free(m_slots, sizeof(ScopeSite) * m_capacity);
  m_slots = slots;
  m_capacity = capacity;
  return true;
}

ScopeSite* ScopeSiteTable::find_or_insert(std::uint32_t stack, std::uint64_t mark) noexcept {
  if (m_generation == 0) {
    // Zero-filled memory (aggregates are made that way): generation 0 marks empty slots.
    m_generation = 1;
  }
  if ((m_count + 1) * 4 > m_capacity * 3 && !grow() && m_count + 1 >= m_capacity) {
    return nullptr;
  }
  std::uint32_t mask = m_capacity - 1;
  std::uint32_t i = static_cast<std::uint32_t>(mix64(stack)) & mask;
  for (;; i = (i + 1) & mask) {
    ScopeSite& e = m_slots[i];
    if (e.generation != m_generation) {
      std::memset(&e, 0, sizeof e);
      e.stack = stack;
      e.generation = m_generation;
      e.mark = mark;
      ++m_count;
      return &e;
    }
    if (e.stack == stack) {
      return &e;
    }
  }
}

void ScopeSiteTable::clear() noexcept {
  ++m_generation;
  m_count = 0;
  if (m_generation == 0) {  // wrapped: entries of generation 0 would look current
    std::memset(m_slots, 0, sizeof(ScopeSite) * m_capacity);
    m_generation = 1;
  }
}

void ScopeSiteTable::for_each(void (*visit)(const ScopeSite&, void*), void* context) const noexcept {
  for (std::uint32_t i = 0; i < m_capacity; ++i) {
    if (m_slots[i].generation == m_generation) {
      visit(m_slots[i], context);
    }
  }
}

// ---- OpenScope --------------------------------------------------------------------------

void OpenScope::start(std::uint32_t name_id, std::uint64_t serial_number, bool by_end) noexcept {
  name = name_id;
  innermost_ended = by_end;
  serial = serial_number;
  totals = ScopeTotals{};
  mark = 0;
  lost_sites = 0;
  sites.clear();
}

void OpenScope::on_event(std::uint32_t stack, bool allocation, std::uint64_t bytes) noexcept {
  auto delta = static_cast<std::int64_t>(bytes);
  std::int64_t count_delta = 1;
  if (allocation) {
    ++totals.alloc_count;
    totals.alloc_bytes += bytes;
  } else {
    ++totals.free_count;
    totals.freed_bytes += bytes;
    delta = -delta;
    count_delta = -1;
  }
  std::uint64_t old_mark = mark;
  totals.net_bytes += delta;
  totals.net_count += count_delta;
  bool new_peak = totals.net_bytes > static_cast<std::int64_t>(totals.peak_bytes);
  if (new_peak) {
    totals.peak_bytes = static_cast<std::uint64_t>(totals.net_bytes);
    ++mark;
  }
  ScopeSite* site = sites.find_or_insert(stack, old_mark);
  if (site == nullptr) {
    ++lost_sites;
    return;
  }
  if (site->mark != old_mark) {
    // A scope peak happened after this site's last event: it held its current net then.
    site->peak_bytes = site->net_bytes;
    site->peak_count = site->net_count;
  }
  if (allocation) {
    ++site->alloc_count;
    site->alloc_bytes += bytes;
  } else {
    ++site->free_count;
    site->freed_bytes += bytes;
  }
  site->net_bytes += delta;
  site->net_count += count_delta;
  if (new_peak) {
    site->peak_bytes = site->net_bytes;
    site->peak_count = site->net_count;
  }
  site->mark = mark;
}

// ---- ScopeNames -------------------------------------------------------------------------

std::uint32_t ScopeNames::intern(const char* text, std::size_t size) noexcept {
  if (size == 0) {
    return 0;
  }
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < size; ++i) {
    hash = (hash ^ static_cast<unsigned char>(text[i])) * 0x100000001b3ULL;
  }
  SpinGuard guard(m_lock);
  if (m_entries == nullptr) {
    m_entries = static_cast<Entry*>(platform::map_pages(sizeof(Entry) * max_names));
    if (m_entries == nullptr) {
      return 0;
    }
  }
  for (std::uint32_t id = 1; id < m_count; ++id) {
    const Entry& e = m_entries[id];
    if (e.hash == hash && e.size == size && std::memcmp(e.text, text, size) == 0) {
      return id;
    }
  }
  if (m_count >= max_names) {
    return 0;
  }
  auto* copy = static_cast<char*>(internal_alloc(size + 1));
  if (copy == nullptr) {
    return 0;
  }
  std::memcpy(copy, text, size);
  m_entries[m_count] = Entry{copy, size, hash};
  __atomic_store_n(&m_count, m_count + 1, __ATOMIC_RELEASE);
  return m_count - 1;
}

const char* ScopeNames::name(std::uint32_t id, std::size_t* size) const noexcept {
  if (id == 0 || id >= count()) {
    return nullptr;
  }
  *size = m_entries[id].size;
  return m_entries[id].text;
}

// ---- ThreadScopes -----------------------------------------------------------------------

bool ThreadScopes::begin(std::uint32_t name_id) noexcept {
  serve_requests();
  if (m_depth == max_depth || m_placeholders != 0) {
    ++m_placeholders;
    return false;
  }
  m_scopes[m_depth].start(name_id, m_next_serial++, true);
  ++m_depth;
  return true;
}

std::uint64_t ThreadScopes::open(std::uint32_t name_id) noexcept {
  serve_requests();
  if (m_depth == max_depth) {
    return 0;
  }
  std::uint64_t serial = m_next_serial++;
  m_scopes[m_depth].start(name_id, serial, false);
  ++m_depth;
  return serial;
}

bool ThreadScopes::request_close(std::uint64_t serial) noexcept {
  // Counted before it is placed: the count is never below the requests in place, so the
  // owner never misses one (at worst it looks and finds none yet).
  m_request_count.fetch_add(1, std::memory_order_acq_rel);
  for (std::atomic<std::uint64_t>& slot : m_requests) {
    std::uint64_t expected = 0;
    if (slot.compare_exchange_strong(expected, serial, std::memory_order_acq_rel)) {
      return true;
    }
  }
  m_request_count.fetch_sub(1, std::memory_order_acq_rel);
  return false;
}

void ThreadScopes::serve_requests_slow() noexcept {
  for (std::atomic<std::uint64_t>& slot : m_requests) {
    std::uint64_t serial = slot.load(std::memory_order_acquire);
    if (serial == 0) {
      continue;
    }
    slot.store(0, std::memory_order_release);
    m_request_count.fetch_sub(1, std::memory_order_acq_rel);
    ScopeTotals ignored{};
    close(serial, &ignored, nullptr, nullptr);
  }
}

void ThreadScopes::reset_open() noexcept {
  m_depth = 0;
  m_placeholders = 0;
  for (std::atomic<std::uint64_t>& slot : m_requests) {
    slot.store(0, std::memory_order_relaxed);
  }
  m_request_count.store(0, std::memory_order_release);
}

void ThreadScopes::reset_aggregates() noexcept {
  for (std::uint32_t i = 0; i < m_aggregate_count; ++i) {
    ScopeAggregate& a = m_aggregates[i];
    ScopeSiteTable sites = a.sites;
    sites.clear();
    a = ScopeAggregate{};
    a.sites = sites;
  }
}

ScopeAggregate* ThreadScopes::aggregate_for(std::uint32_t id) noexcept {
  if (id >= m_aggregate_count) {
    std::uint32_t count = m_aggregate_count == 0 ? 16 : m_aggregate_count;
    while (count <= id) {
      count *= 2;
    }
    auto* grown = static_cast<ScopeAggregate*>(internal_alloc(sizeof(ScopeAggregate) * count));
    if (grown == nullptr) {
      return nullptr;
    }
    if (m_aggregate_count != 0) {
      std::memcpy(static_cast<void*>(grown), m_aggregates, sizeof(ScopeAggregate) * m_aggregate_count);
    }
    // The old array is left in place: the capture writer may be reading it from another
    // thread at exit. Growth is rare (doubling), so little is kept.
    __atomic_store_n(&m_aggregates, grown, __ATOMIC_RELEASE);
    __atomic_store_n(&m_aggregate_count, count, __ATOMIC_RELEASE);
  }
  return &m_aggregates[id];
}

namespace {

struct MergeContext {
  ScopeAggregate* aggregate;
  ScopeSite* copy;
  std::uint32_t copied;
};

void merge_site(const ScopeSite& site, void* context) noexcept {
  auto* ctx = static_cast<MergeContext*>(context);
  if (ctx->copy != nullptr) {
    ctx->copy[ctx->copied++] = site;
  }
  if (ctx->aggregate == nullptr) {
    return;
  }
  ScopeSite* sum = ctx->aggregate->sites.find_or_insert(site.stack, 0);
  if (sum != nullptr) {
    sum->alloc_count += site.alloc_count;
    sum->alloc_bytes += site.alloc_bytes;
    sum->free_count += site.free_count;
    sum->freed_bytes += site.freed_bytes;
    sum->net_bytes += site.net_bytes;
    sum->net_count += site.net_count;
  }
}

}  // namespace

void OpenScope::finish(ScopeAggregate* aggregate, ScopeTotals* out, ScopeSite** copy,
                       std::uint32_t* site_count) noexcept {
  MergeContext ctx{aggregate, nullptr, 0};
  std::uint32_t count = sites.size();
  if (copy != nullptr && count != 0) {
    ctx.copy = static_cast<ScopeSite*>(internal_alloc(sizeof(ScopeSite) * count));
  }
  if (ctx.aggregate != nullptr || ctx.copy != nullptr) {
    sites.for_each(&merge_site, &ctx);
  }
  // Entries not touched since the last peak held their net value at it.
  for (std::uint32_t i = 0; ctx.copy != nullptr && i < ctx.copied; ++i) {
    ScopeSite& s = ctx.copy[i];
    if (s.mark != mark) {
      s.peak_bytes = s.net_bytes;
      s.peak_count = s.net_count;
    }
  }
  if (ScopeAggregate* a = ctx.aggregate) {
    ++a->entries;
    a->alloc_count += totals.alloc_count;
    a->alloc_bytes += totals.alloc_bytes;
    a->free_count += totals.free_count;
    a->freed_bytes += totals.freed_bytes;
    a->net_bytes += totals.net_bytes;
    a->peak_sum += totals.peak_bytes;
    a->peak_max = totals.peak_bytes > a->peak_max ? totals.peak_bytes : a->peak_max;
  }
  *out = totals;
  if (copy != nullptr) {
    *copy = ctx.copy;
    *site_count = ctx.copy != nullptr ? ctx.copied : 0;
  }
}

bool ThreadScopes::end(ScopeTotals* out, ScopeSite** sites, std::uint32_t* site_count) noexcept {
  serve_requests();
  if (sites != nullptr) {
    *sites = nullptr;
    *site_count = 0;
  }
  if (m_placeholders != 0) {
    --m_placeholders;
    *out = ScopeTotals{};
    return true;
  }
  for (std::uint32_t i = m_depth; i-- > 0;) {
    if (m_scopes[i].innermost_ended) {
      close_at(i, out, sites, site_count);
      return true;
    }
  }
  return false;
}

bool ThreadScopes::close(std::uint64_t serial, ScopeTotals* out, ScopeSite** sites,
                         std::uint32_t* site_count) noexcept {
  if (sites != nullptr) {
    *sites = nullptr;
    *site_count = 0;
  }
  for (std::uint32_t i = m_depth; i-- > 0;) {
    if (m_scopes[i].serial == serial && !m_scopes[i].innermost_ended) {
      close_at(i, out, sites, site_count);
      return true;
    }
  }
  return false;
}

void ThreadScopes::close_at(std::uint32_t index, ScopeTotals* out, ScopeSite** sites,
                            std::uint32_t* site_count) noexcept {
  OpenScope& scope = m_scopes[index];
  scope.finish(scope.name != 0 ? aggregate_for(scope.name) : nullptr, out, sites, site_count);
  // Closed out of order, the scope moves past the end of the list, keeping its site table
  // for the next scope opened there; the scopes inside it move out by one and stay open.
  if (index + 1 != m_depth) {
    OpenScope closed = scope;
    for (std::uint32_t i = index + 1; i < m_depth; ++i) {
      m_scopes[i - 1] = m_scopes[i];
    }
    m_scopes[m_depth - 1] = closed;
  }
  --m_depth;
}

}  // namespace measure::detail
