// The summary section from the threads' statistics (threads/thread_summary.h) and the
// registry's record of exited threads.
#include "format/runtime_encoder.h"
#include "format/sections.h"
#include "platform/platform.h"
#include "runtime/runtime.h"

namespace measure::detail {
namespace {

// The process's largest allocations: the threads' kept blocks merged, largest first and the
// earliest first among equal sizes.
class LargestMerge {
 public:
  void offer(const LargestBlock& b) noexcept {
    unsigned at = m_count;
    while (at > 0 && before(b, m_blocks[at - 1])) {
      --at;
    }
    if (at == ThreadSummary::largest_kept) {
      return;
    }
    unsigned last = m_count < ThreadSummary::largest_kept ? m_count : ThreadSummary::largest_kept - 1;
    for (unsigned i = last; i > at; --i) {
      m_blocks[i] = m_blocks[i - 1];
    }
    m_blocks[at] = b;
    m_count = m_count < ThreadSummary::largest_kept ? m_count + 1 : m_count;
  }
  unsigned count() const noexcept { return m_count; }
  const LargestBlock& operator[](unsigned i) const noexcept { return m_blocks[i]; }

 private:
  static bool before(const LargestBlock& a, const LargestBlock& b) noexcept {
    return a.size != b.size ? a.size > b.size : a.time_ns < b.time_ns;
  }
  LargestBlock m_blocks[ThreadSummary::largest_kept] = {};
  unsigned m_count = 0;
};

void encode_thread(format::ByteBuffer& out, std::uint64_t tid, const char* name, bool running,
                   const EventTotals& t) noexcept {
  std::size_t name_size = 0;
  while (name_size < 15 && name[name_size] != '\0') {
    ++name_size;
  }
  format::encode_summary_thread(
      out, format::SummaryThreadFields{tid, name, name_size, running ? format::summary_thread_running : 0U,
                                       t.alloc_count, t.alloc_bytes, t.free_count, t.freed_bytes});
}

}  // namespace

void encode_summary(format::ByteBuffer& out, Runtime& rt, std::uint32_t stack_count) noexcept {
  format::SummaryClassFields sizes[ThreadSummary::size_classes] = {};
  std::uint64_t temporary_bytes = 0;
  LargestMerge largest;
  for (const ThreadState* t = rt.threads.first(); t != nullptr; t = t->next_in_registry) {
    for (unsigned c = 0; c < ThreadSummary::size_classes; ++c) {
      ThreadSummary::SizeClass s = t->summary.size_class(c);
      sizes[c].count += s.count;
      sizes[c].bytes += s.bytes;
    }
    temporary_bytes += t->summary.temporary_bytes();
    LargestBlock kept[ThreadSummary::largest_kept];
    unsigned n = t->summary.copy_largest(kept);
    for (unsigned i = 0; i < n; ++i) {
      largest.offer(kept[i]);
    }
  }
  unsigned classes = ThreadSummary::size_classes;
  while (classes > 0 && sizes[classes - 1].count == 0) {
    --classes;
  }
  format::SummaryLargestFields largest_fields[ThreadSummary::largest_kept];
  for (unsigned i = 0; i < largest.count(); ++i) {
    const LargestBlock& b = largest[i];
    // A block recorded after the stacks section was written (a checkpoint of a running
    // program) names a stack the capture does not hold.
    largest_fields[i] = {b.size, b.time_ns > rt.start_monotonic_ns ? b.time_ns - rt.start_monotonic_ns : 0,
                         b.stack < stack_count ? b.stack : StackTable::unknown_id};
  }

  // Threads: the exited ones as the registry kept them, then the running ones, which the
  // registry's states hold (a state not in use was given back and is counted above).
  std::uint32_t listed = 0;
  rt.threads.for_each_exited([&](const ExitedThread&) { ++listed; });
  for (const ThreadState* t = rt.threads.first(); t != nullptr; t = t->next_in_registry) {
    EventTotals own = t->own_totals();
    listed += t->in_use.load(std::memory_order_acquire) && (own.alloc_count != 0 || own.free_count != 0) ? 1 : 0;
  }
  out.begin_section(static_cast<std::uint32_t>(format::SectionKind::summary));
  format::encode_summary(out, format::SummaryFields{sizes, classes, temporary_bytes, rt.inherited_count,
                                                    rt.inherited_bytes, largest_fields, largest.count(), listed});
  // Counted again while writing: a thread may exit or start counting meanwhile, and the
  // count written first must match the entries that follow.
  std::uint32_t written = 0;
  rt.threads.for_each_exited([&](const ExitedThread& e) {
    if (written < listed) {
      encode_thread(out, e.os_thread_id, e.name, false, e.totals);
      ++written;
    }
  });
  for (const ThreadState* t = rt.threads.first(); t != nullptr && written < listed; t = t->next_in_registry) {
    EventTotals own = t->own_totals();
    if (t->in_use.load(std::memory_order_acquire) && (own.alloc_count != 0 || own.free_count != 0)) {
      char name[16];
      platform::thread_name(t->os_thread_id, name);
      encode_thread(out, t->os_thread_id, name, true, own);
      ++written;
    }
  }
  for (; written < listed; ++written) {
    encode_thread(out, 0, "", false, EventTotals{});  // one that exited meanwhile: reports skip it
  }
  EventTotals other{};
  std::uint64_t others = rt.threads.other_exited(&other);
  format::encode_summary_other(out, others,
                               format::SummaryThreadFields{0, "", 0, 0, other.alloc_count, other.alloc_bytes,
                                                           other.free_count, other.freed_bytes});
  out.end_section();
}

}  // namespace measure::detail
