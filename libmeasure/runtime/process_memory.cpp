#include "runtime/process_memory.h"

namespace measure::detail {
namespace {

std::uint64_t light_live(const Runtime& rt) noexcept {
  EventTotals t = light_totals(rt);
  // The threads' counters are read one after the other while they run: a block freed on one
  // thread after its allocation was read on another can make the sum dip below zero.
  return t.alloc_bytes > t.freed_bytes ? t.alloc_bytes - t.freed_bytes : 0;
}

}  // namespace

EventTotals light_totals(const Runtime& rt) noexcept {
  EventTotals t = rt.threads.totals();
  t.free_count += rt.stateless_free_count.load(std::memory_order_relaxed);
  t.freed_bytes += rt.stateless_freed_bytes.load(std::memory_order_relaxed);
  return t;
}

ProcessMemory process_memory(Runtime& rt) noexcept {
  if (rt.options.mode == Mode::exact) {
    std::uint64_t live = rt.account.live();
    return {live, rt.account.peak()};
  }
  std::uint64_t live = light_live(rt);
  return {live, rt.sampled_peak.observe(live)};
}

void reset_process_peak(Runtime& rt) noexcept {
  if (rt.options.mode == Mode::exact) {
    rt.account.reset_peak();
  } else {
    rt.sampled_peak.reset(light_live(rt));
  }
}

}  // namespace measure::detail
