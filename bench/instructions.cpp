#include "bench/instructions.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "bench/bench_process.h"

namespace measure::bench {
namespace {

namespace fs = std::filesystem;

// What runs the program in `mode` under valgrind. The preload is set directly rather than
// through `measure run`, whose own process would be counted too; MEASURE_FOLLOW_EXEC makes
// the runtime record the program `env` starts rather than `env` itself. The background
// thread's periodic work (checkpoints, the timeline) is switched off: it follows the clock,
// which valgrind slows fifty-fold, not the operations.
std::vector<std::string> prefix(const std::string& mode, const std::string& capture) {
  if (mode == "native") {
    return {};
  }
  if (mode.rfind("floor-", 0) == 0) {
    return floor_prefix(mode, capture + ".totals");
  }
  return {"/usr/bin/env",
          "LD_PRELOAD=" MEASURE_BENCH_PRELOAD,
          "MEASURE_FOLLOW_EXEC=1",
          "MEASURE_CHECKPOINT_INTERVAL=0",
          "MEASURE_TIMELINE=0",
          "MEASURE_MODE=" + mode,
          "MEASURE_OUTPUT=" + capture};
}

// The instructions of every process of one run under callgrind (-1 when it failed).
long long count(const Workload& w, const std::string& mode, long ops, const std::string& dir) {
  std::string out = dir + "/callgrind";
  std::error_code ec;
  fs::remove_all(out, ec);
  fs::create_directories(out);
  std::vector<std::string> argv = {"/usr/bin/valgrind", "--tool=callgrind", "--trace-children=yes",
                                   "--callgrind-out-file=" + out + "/cg.%p.out"};
  std::vector<std::string> pre = prefix(mode, dir + "/callgrind.msr");
  argv.insert(argv.end(), pre.begin(), pre.end());
  std::vector<std::string> program = workload_command(w, ops);
  argv.insert(argv.end(), program.begin(), program.end());
  fs::remove(dir + "/callgrind.msr.totals", ec);
  Run r = run_program(argv, w.env);
  if (r.status != 0) {
    std::fprintf(stderr, "%s under %s in callgrind failed with status %d\n", w.name.c_str(), mode.c_str(), r.status);
    return -1;
  }
  if (!floor_counted(mode, dir + "/callgrind.msr.totals")) {
    std::fprintf(stderr, "%s under %s in callgrind counted nothing: its block shadow could not be mapped\n",
                 w.name.c_str(), mode.c_str());
    return -1;
  }
  long long total = 0;
  for (const auto& entry : fs::directory_iterator(out)) {
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("summary: ", 0) == 0 || line.rfind("totals: ", 0) == 0) {
        total += std::atoll(line.c_str() + line.find(' ') + 1);
        break;
      }
    }
  }
  return total;
}

int threads_of(const Workload& w) {
  for (std::size_t i = 0; i + 1 < w.argv.size(); ++i) {
    if (w.argv[i] == "--threads") {
      return std::atoi(w.argv[i + 1].c_str());
    }
  }
  return 1;
}

}  // namespace

void instructions(const std::vector<Workload>& workloads, const std::vector<std::string>& modes,
                  const std::string& dir) {
  if (access("/usr/bin/valgrind", X_OK) != 0) {
    std::fprintf(stderr, "valgrind is not installed: no instruction counts (apt-get install valgrind)\n");
    return;
  }
  std::map<std::string, std::map<std::string, double>> per_op;  // [workload][mode]
  std::vector<const Workload*> counted;
  for (const Workload& w : workloads) {
    if (w.ops == 0) {
      std::fprintf(stderr, "%s has no operation count: left out of the instruction counts\n", w.name.c_str());
      continue;
    }
    counted.push_back(&w);
    long n = w.instruction_ops;
    double operations = 2.0 * static_cast<double>(n) * threads_of(w);
    for (const std::string& mode : modes) {
      long long shorter = count(w, mode, n, dir);
      long long longer = count(w, mode, 3 * n, dir);
      per_op[w.name][mode] = shorter < 0 || longer < 0 ? -1 : static_cast<double>(longer - shorter) / operations;
      std::fprintf(stderr, "  callgrind  %-14s %-14s %8.1f instructions per operation\n", w.name.c_str(), mode.c_str(),
                   per_op[w.name][mode]);
    }
  }
  std::printf(
      "\nInstructions per operation (an allocation and its free), callgrind: native, and each "
      "configuration over native\n\n%-14s",
      "workload");
  for (const std::string& m : modes) {
    std::printf(" %14s", m.c_str());
  }
  std::printf("\n");
  for (const Workload* w : counted) {
    double native = per_op[w->name]["native"];
    std::printf("%-14s", w->name.c_str());
    for (const std::string& m : modes) {
      double v = per_op[w->name][m];
      if (v < 0) {
        std::printf(" %14s", "failed");
      } else if (m == "native") {
        std::printf(" %14.0f", v);
      } else {
        std::printf(" %+14.0f", v - native);
      }
    }
    std::printf("\n");
  }
}

}  // namespace measure::bench
