// The process's live bytes and peak, whichever the mode: exact mode keeps them in the account
// (record/peak.h), exact at every event; sampled and counters modes add up the threads'
// counters when asked and keep a sampled peak (record/sampled_peak.h). Readers only: the
// timeline, capture writes and the in-process API. Never on the hot path.
#pragma once

#include <cstdint>

#include "runtime/runtime.h"

namespace measure::detail {

/// The sum of the threads' exact counts (sampled and counters modes), with the frees of
/// threads that had no state (the toolkit was out of memory) counted too.
EventTotals light_totals(const Runtime& rt) noexcept;

/// Live bytes now and the peak so far. Exact mode: the account's (exact; a lease out is
/// recalled). Sampled and counters modes: the threads' sum now, offered to the sampled peak
/// first, so the peak is at least the live bytes returned with it.
struct ProcessMemory {
  std::uint64_t live;
  std::uint64_t peak;
};
ProcessMemory process_memory(Runtime& rt) noexcept;

/// Sets the peak to the live bytes now (tracemalloc's reset_peak).
void reset_process_peak(Runtime& rt) noexcept;

}  // namespace measure::detail
