// The overhead benchmark's workloads: the programs written for it (bench/workloads/: churn
// and its C++ twin, the allocation shapes) and real programs nobody here wrote, each with
// the command line that runs it natively. Shared by measure_bench_overhead's wall-time and
// instruction-count runs.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace measure::bench {

struct Workload {
  std::string name;
  std::string group;                                     // "churn", "shapes" or "real"
  std::vector<std::string> argv;                         // argv[0] an absolute path
  long ops = 0;                                          // per thread for --ops; 0: the program takes no --ops
  std::vector<std::pair<std::string, std::string>> env;  // added to the environment
  std::string needs;                                     // the program that must be installed ("" when built here)
  // Under callgrind (--instructions): operations per thread of the shorter of the two runs
  // whose difference is counted; every distinct stack of the workload is reached within it.
  long instruction_ops = 100000;
};

/// Every workload, in the order tables list them. `workload_dir` holds the programs built
/// here; the real programs read their inputs from `input_dir` (write_real_inputs).
std::vector<Workload> all_workloads(const std::string& workload_dir, const std::string& input_dir);

/// Writes the real programs' inputs (a JSON document, an XML document, an SQL script, a
/// Python program: the same bytes on every run) into `input_dir`, which exists. Returns false
/// and says why on stderr when a file cannot be written.
bool write_real_inputs(const std::string& input_dir);

/// Whether `w` can run here (its program is installed); prints why not, once, when it cannot.
bool available(const Workload& w);

/// What runs a program under the reference preload of `mode` ("floor-forward" or
/// "floor-totals", bench/floor/floor_preload.c): env with LD_PRELOAD set, and for
/// floor-totals MEASURE_FLOOR_OUTPUT=`totals`, where it writes what it counted.
std::vector<std::string> floor_prefix(const std::string& mode, const std::string& totals);
/// Whether the run of `mode` that wrote `totals` counted, as floor-totals must: its block
/// shadow is one reservation of 8 TiB of address space, and where that (and the smaller ones
/// it tries next) is refused it counts nothing and costs no more than floor-forward. Always
/// true for floor-forward.
bool floor_counted(const std::string& mode, const std::string& totals);
/// The address space one benchmark run of `mode` may use: 8 GiB, so that a tool that runs
/// away with memory on a workload (heaptrack 1.4 reaches 18 GiB on the recursion shape) fails
/// alone instead of taking the shared machine with it; floor-totals gets its shadow's
/// reservation on top.
std::uint64_t address_space_limit(const std::string& mode);

/// The command line of `w` with `ops` operations per thread (ops ignored when w.ops is 0).
std::vector<std::string> workload_command(const Workload& w, long ops);

}  // namespace measure::bench
