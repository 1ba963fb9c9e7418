// Running benchmark programs: wall time, CPU time of the whole process tree and peak RSS of
// one run, medians, and Google Benchmark's CSV output. Shared by the overhead benchmarks.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace measure::bench {

struct Run {
  double wall_s = 0;
  double cpu_s = 0;  // user + system of the child and every descendant it waited for
  long max_rss_kib = 0;
  int status = -1;  // exit code, or 128 + signal
};

/// Runs `argv` (argv[0] a path) with standard output and error discarded, and waits for it.
/// `address_space`: the run's RLIMIT_AS in bytes (0: the benchmark's own).
Run run_program(const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env = {},
                std::uint64_t address_space = 0);

/// The median of `field` over `runs` (0 when there are none).
double median(std::vector<Run> runs, double Run::*field);

/// (benchmark name, real time in ns per iteration) of every row of a --benchmark_out CSV file.
std::vector<std::pair<std::string, double>> read_benchmark_csv(const std::string& path);

}  // namespace measure::bench
