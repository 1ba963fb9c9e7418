// Instructions per operation under callgrind: repeatable where wall time is not. Each
// workload runs twice per configuration, with N and 3N operations per thread, and the
// difference of the instruction counts over 2N operations per thread is the cost of one
// operation (an allocation and its free), start-up and exit cancelling out.
#pragma once

#include <string>
#include <vector>

#include "bench/workload_set.h"

namespace measure::bench {

/// Prints a table of instructions per operation, native and over native, for every workload
/// of `workloads` with an operation count (the real programs have none and are skipped, as
/// is every workload when valgrind is not installed) in each of `modes` (native, exact,
/// sampled, counters, floor-forward, floor-totals). `dir` holds the callgrind files.
void instructions(const std::vector<Workload>& workloads, const std::vector<std::string>& modes,
                  const std::string& dir);

}  // namespace measure::bench
