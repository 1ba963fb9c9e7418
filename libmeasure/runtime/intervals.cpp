#include "runtime/intervals.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "format/capture_format.h"
#include "format/interval_changes.h"
#include "format/sections.h"
#include "platform/platform.h"
#include "runtime/runtime.h"
#include "support/internal_alloc.h"

namespace measure::detail {
namespace {

// A stack's four counts, summed over threads (the sums at a close) or their change.
struct Counts {
  std::uint64_t alloc_count = 0;
  std::uint64_t alloc_bytes = 0;
  std::uint64_t free_count = 0;
  std::uint64_t freed_bytes = 0;

  bool empty() const noexcept { return (alloc_count | alloc_bytes | free_count | freed_bytes) == 0; }
  friend bool operator==(const Counts&, const Counts&) = default;
};

void put(format::ByteBuffer& out, std::uint32_t stack_delta, const Counts& c) noexcept {
  format::encode_interval_change(
      out, stack_delta, format::IntervalChangeFields{c.alloc_count, c.alloc_bytes, c.free_count, c.freed_bytes});
}

// Reads back what put() wrote, stack by stack (the decoding the tools use for the section).
class ChangeReader {
 public:
  ChangeReader(const unsigned char* data, std::size_t size) noexcept
      : m_at(data, data + size), m_end(data + size, data + size) {}
  /// The next stack and its counts; false at the end.
  bool next(std::uint32_t* stack, Counts* c) noexcept {
    if (m_at == m_end) {
      return false;
    }
    const IntervalChange& x = *m_at;
    *stack = x.stack;
    *c = Counts{x.alloc_count, x.alloc_bytes, x.free_count, x.freed_bytes};
    ++m_at;
    return true;
  }

 private:
  IntervalChanges::Iterator m_at;
  IntervalChanges::Iterator m_end;
};

// Sums every thread's counters per stack, a window of stack ids at a time, so scratch memory
// stays at `largest_window` stacks however many there are.
constexpr std::uint32_t largest_window = 16384;

void sum_window(Runtime& rt, std::uint32_t begin, std::uint32_t end, Counts* sums) noexcept {
  std::memset(static_cast<void*>(sums), 0, sizeof(Counts) * (end - begin));
  for (ThreadState* t = rt.threads.first(); t != nullptr; t = t->next_in_registry) {
    t->for_each_site(begin, end, [&](std::uint32_t id, const SiteCounters& c) {
      Counts& s = sums[id - begin];
      s.alloc_count += load_relaxed(c.alloc_count);
      s.alloc_bytes += load_relaxed(c.alloc_bytes);
      s.free_count += load_relaxed(c.free_count);
      s.freed_bytes += load_relaxed(c.freed_bytes);
    });
  }
}

Counts sum(const Counts& a, const Counts& b) noexcept {
  return Counts{a.alloc_count + b.alloc_count, a.alloc_bytes + b.alloc_bytes, a.free_count + b.free_count,
                a.freed_bytes + b.freed_bytes};
}

}  // namespace

void SiteIntervals::close(Runtime& rt, std::uint64_t now_ns, std::uint32_t stack_limit) noexcept {
  SpinGuard guard(m_lock);
  if (m_failed || !make_buffers()) {
    return;
  }
  std::uint64_t began = platform::monotonic_ns();
  // Two closers (the background thread, a capture's writer) may read the clock in one order
  // and take the lock in the other.
  if (m_count > 0) {
    now_ns = std::max(now_ns, m_intervals[m_count - 1].end_ns);
  }
  std::uint32_t stacks = std::min(rt.stacks.count(), stack_limit);
  std::uint32_t window = stacks == 0 ? 1 : std::min(stacks, largest_window);
  auto* sums = static_cast<Counts*>(platform::map_pages(sizeof(Counts) * window));
  format::ByteBuffer next;  // the sums of this close, the next close's m_previous
  std::size_t start = m_changes->size();
  std::uint32_t changed = 0;
  ChangeReader before(m_previous->data(), m_previous->size());
  std::uint32_t before_stack = 0;
  Counts before_counts;
  bool more = before.next(&before_stack, &before_counts);
  std::uint32_t last_sum = 0;
  std::uint32_t last_change = 0;
  for (std::uint32_t begin = 0; sums != nullptr && begin < stacks; begin += window) {
    std::uint32_t end = stacks - begin < window ? stacks : begin + window;
    sum_window(rt, begin, end, sums);
    for (std::uint32_t id = begin; id < end; ++id) {
      Counts now = sums[id - begin];
      Counts old;
      if (more && before_stack == id) {
        old = before_counts;
        more = before.next(&before_stack, &before_counts);
      }
      // Each counter only grows; a sum read while its thread was mid-update never goes back.
      now.alloc_count = std::max(now.alloc_count, old.alloc_count);
      now.alloc_bytes = std::max(now.alloc_bytes, old.alloc_bytes);
      now.free_count = std::max(now.free_count, old.free_count);
      now.freed_bytes = std::max(now.freed_bytes, old.freed_bytes);
      if (now.empty()) {
        continue;
      }
      put(next, id - last_sum, now);
      last_sum = id;
      if (now != old) {
        put(*m_changes, id - last_change,
            Counts{now.alloc_count - old.alloc_count, now.alloc_bytes - old.alloc_bytes,
                   now.free_count - old.free_count, now.freed_bytes - old.freed_bytes});
        last_change = id;
        ++changed;
      }
    }
  }
  // Stacks past the limit (a writer's close after a close that saw more) keep their sums.
  for (; more; more = before.next(&before_stack, &before_counts)) {
    put(next, before_stack - last_sum, before_counts);
    last_sum = before_stack;
  }
  platform::unmap_pages(sums, sizeof(Counts) * window);
  if (sums == nullptr || next.failed() || m_changes->failed()) {
    m_failed = true;
    m_changes->release();
    m_previous->release();
    return;
  }
  m_previous->swap(next);
  m_intervals[m_count++] = Interval{now_ns,  internal_bytes() + rt.shadow.memory_bytes() + memory_bytes_locked(),
                                    changed, stacks,
                                    start,   m_changes->size() - start};
  if (m_count == capacity || (m_changes->size() > budget_bytes && m_count > 1)) {
    merge_pairs();
  }
  std::uint64_t took = platform::monotonic_ns() - began;
  m_due_ns.store(now_ns + std::max(m_length_ns, 20 * took), std::memory_order_relaxed);
}

void SiteIntervals::merge_pairs() noexcept {
  format::ByteBuffer merged;
  std::uint32_t n = 0;
  for (std::uint32_t i = 0; i < m_count; i += 2) {
    Interval a = m_intervals[i];
    std::size_t start = merged.size();
    if (i + 1 == m_count) {
      merged.append(m_changes->data() + a.offset, a.size);
      m_intervals[n++] = Interval{a.end_ns, a.toolkit_bytes, a.sites, a.stacks, start, a.size};
      continue;
    }
    Interval b = m_intervals[i + 1];
    ChangeReader first(m_changes->data() + a.offset, a.size);
    ChangeReader second(m_changes->data() + b.offset, b.size);
    std::uint32_t first_stack = 0;
    std::uint32_t second_stack = 0;
    Counts first_counts;
    Counts second_counts;
    bool more_first = first.next(&first_stack, &first_counts);
    bool more_second = second.next(&second_stack, &second_counts);
    std::uint32_t last = 0;
    std::uint32_t sites = 0;
    while (more_first || more_second) {
      std::uint32_t stack = 0;
      Counts c;
      if (more_first && (!more_second || first_stack <= second_stack)) {
        stack = first_stack;
        c = first_counts;
        more_first = first.next(&first_stack, &first_counts);
        if (more_second && second_stack == stack) {
          c = sum(c, second_counts);
          more_second = second.next(&second_stack, &second_counts);
        }
      } else {
        stack = second_stack;
        c = second_counts;
        more_second = second.next(&second_stack, &second_counts);
      }
      put(merged, stack - last, c);
      last = stack;
      ++sites;
    }
    m_intervals[n++] =
        Interval{b.end_ns, b.toolkit_bytes, sites, std::max(a.stacks, b.stacks), start, merged.size() - start};
  }
  if (merged.failed()) {
    m_failed = true;
    m_changes->release();
    m_previous->release();
    return;
  }
  m_changes->swap(merged);
  m_count = n;
  if (m_length_ns <= UINT64_MAX / 2) {
    m_length_ns *= 2;
  }
}

void SiteIntervals::encode(format::ByteBuffer& out, std::uint32_t stack_count) const noexcept {
  SpinGuard guard(m_lock);
  if (m_failed || m_count == 0) {
    return;
  }
  out.begin_section(static_cast<std::uint32_t>(format::SectionKind::intervals));
  out.put_varint(m_count);
  std::uint64_t previous = 0;
  for (std::uint32_t i = 0; i < m_count; ++i) {
    const Interval& v = m_intervals[i];
    if (v.stacks <= stack_count) {
      format::encode_interval(out, format::IntervalFields{v.end_ns - previous, v.toolkit_bytes, v.sites});
      out.append(m_changes->data() + v.offset, v.size);
    } else {
      // Closed after the writer's stacks section was written: its newer stacks are left out.
      std::uint32_t stack = 0;
      Counts c;
      std::uint32_t kept = 0;
      for (ChangeReader r(m_changes->data() + v.offset, v.size); r.next(&stack, &c) && stack < stack_count;) {
        ++kept;
      }
      format::encode_interval(out, format::IntervalFields{v.end_ns - previous, v.toolkit_bytes, kept});
      std::uint32_t last = 0;
      for (ChangeReader r(m_changes->data() + v.offset, v.size); r.next(&stack, &c) && stack < stack_count;) {
        put(out, stack - last, c);
        last = stack;
      }
    }
    previous = v.end_ns;
  }
  out.end_section();
}

bool SiteIntervals::make_buffers() noexcept {
  if (m_changes != nullptr) {
    return true;
  }
  void* pages = platform::map_pages(2 * sizeof(format::ByteBuffer));
  if (pages == nullptr) {
    m_failed = true;
    return false;
  }
  m_changes = new (pages) format::ByteBuffer();
  m_previous = new (static_cast<format::ByteBuffer*>(pages) + 1) format::ByteBuffer();
  return true;
}

std::size_t SiteIntervals::memory_bytes_locked() const noexcept {
  return m_changes == nullptr ? 0 : m_changes->capacity() + m_previous->capacity();
}

std::size_t SiteIntervals::memory_bytes() const noexcept {
  SpinGuard guard(m_lock);
  return memory_bytes_locked();
}

void SiteIntervals::reset() noexcept {
  m_lock.reset_after_fork();
  SpinGuard guard(m_lock);
  if (m_changes != nullptr) {
    m_changes->release();
    m_previous->release();
  }
  m_count = 0;
  m_failed = false;
  m_length_ns = first_length_ns;
  m_due_ns.store(first_length_ns, std::memory_order_relaxed);
}

}  // namespace measure::detail
