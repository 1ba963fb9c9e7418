// The runtime's overhead (docs/performance.md, "Runtime overhead"): allocation-bound workloads
// (bench/workloads/) run natively, under `measure run` in each mode, and under heaptrack when
// it is installed; rounds are interleaved (every configuration once per round, in a rotating
// order) so a noisy neighbour slows all of them alike, and the medians are compared. Wall time
// is the headline; CPU time (user + system of the whole process tree) is printed too because
// it is less sensitive to other load on a shared machine. A benchmark, not a test.
//
//   measure_bench_overhead [--runs N] [--quick] [--workloads a,b,...] [--modes a,b,...]
//                          [--memory] [--micro] [--instructions] [--dir DIR] [--baseline MEASURE]
//
//   --workloads  names (c-small-1t, jq, ...) or groups: churn, shapes, real, all (the default:
//                every workload but c-small-1t-fp); bench/workload_set.cpp lists them
//   --baseline   another build's `measure` binary: each selected mode of it becomes a
//                column "old-MODE" (old vs new code, side by side in one run)
//   --quick      a fifth of the operations, 3 runs: a smoke run, not a measurement
//   --memory     toolkit bytes per live block instead (exact mode, captures' own figure)
//   --micro      the hot-path micro-benchmarks (measure_bench_hotpath) in every mode
//   --instructions  instructions per operation over native under callgrind, for every
//                workload with an operation count (bench/instructions.cpp)
//
// Modes: native, exact, sampled, counters, heaptrack, and the floor of the light modes
// (bench/floor/floor_preload.c): floor-forward, a preload that only forwards to glibc, and
// floor-totals, one that also keeps exact per-thread totals (the least counters mode does).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <sys/wait.h>

#include "bench/bench_process.h"
#include "bench/instructions.h"
#include "bench/workload_set.h"
#include "format/capture.h"

namespace {

namespace fs = std::filesystem;
using measure::bench::median;
using measure::bench::Run;
using measure::bench::run_program;
using measure::bench::Workload;

const std::vector<std::string> g_all_modes = {"native",        "exact",        "sampled",  "counters",
                                              "floor-forward", "floor-totals", "heaptrack"};

struct Options {
  int runs = 5;
  bool quick = false;
  bool memory = false;
  bool micro = false;
  bool instructions = false;
  std::vector<std::string> workloads = {"all"};
  std::vector<std::string> modes = g_all_modes;
  std::string dir;
  std::string baseline;  // another build's measure binary
};

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) {
      out.push_back(item);
    }
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  return out;
}

std::string heaptrack_path() {
  for (const char* dir : {"/usr/bin", "/usr/local/bin"}) {
    std::string p = std::string(dir) + "/heaptrack";
    if (access(p.c_str(), X_OK) == 0) {
      return p;
    }
  }
  return {};
}

// What runs `mode` around a program: the tool with its capture at `capture`, heaptrack, a
// floor preload, or nothing (native).
std::vector<std::string> mode_prefix(const std::string& mode, const std::string& capture, const Options& o) {
  if (mode == "heaptrack") {
    return {heaptrack_path(), "-o", capture};
  }
  if (mode.rfind("floor-", 0) == 0) {
    return measure::bench::floor_prefix(mode, capture + ".totals");
  }
  if (mode.rfind("old-", 0) == 0) {
    return {o.baseline, "run", "-q", "--mode", mode.substr(4), "-o", capture + ".msr", "--"};
  }
  if (mode != "native") {
    return {MEASURE_BENCH_TOOL, "run", "-q", "--mode", mode, "-o", capture + ".msr", "--"};
  }
  return {};
}

// The command line of one configuration.
std::vector<std::string> command(const Workload& w, const std::string& mode, long ops, const Options& o) {
  std::vector<std::string> argv =
      mode_prefix(mode, mode == "heaptrack" ? o.dir + "/heaptrack." + w.name : o.dir + "/" + w.name + "." + mode, o);
  std::vector<std::string> program = measure::bench::workload_command(w, ops);
  argv.insert(argv.end(), program.begin(), program.end());
  return argv;
}

// The workloads `o.workloads` names (names or groups), in the table's order; those whose
// program is not installed are left out with a line on stderr. Writes the real programs'
// inputs when one is selected.
std::vector<Workload> selected_workloads(const Options& o) {
  std::vector<Workload> all = measure::bench::all_workloads(MEASURE_BENCH_WORKLOADS, o.dir);
  for (const std::string& name : o.workloads) {
    bool known = name == "all" || std::any_of(all.begin(), all.end(),
                                              [&](const Workload& w) { return w.name == name || w.group == name; });
    if (!known) {
      std::fprintf(stderr, "measure_bench_overhead: unknown workload %s\n", name.c_str());
      std::exit(2);
    }
  }
  std::vector<Workload> out;
  for (const Workload& w : all) {
    bool wanted = std::any_of(o.workloads.begin(), o.workloads.end(), [&](const std::string& name) {
      return name == w.name || name == w.group || (name == "all" && w.name != "c-small-1t-fp");
    });
    if (wanted && measure::bench::available(w)) {
      out.push_back(w);
    }
  }
  if (std::any_of(out.begin(), out.end(), [](const Workload& w) { return w.group == "real"; }) &&
      !measure::bench::write_real_inputs(o.dir)) {
    std::exit(1);
  }
  return out;
}

void overhead(const Options& o) {
  std::vector<Workload> workloads = selected_workloads(o);
  std::vector<std::string> modes;
  std::vector<std::string> wanted = o.modes;
  if (!o.baseline.empty()) {
    for (const std::string& m : o.modes) {
      if (m == "exact" || m == "sampled" || m == "counters") {
        wanted.push_back("old-" + m);
      }
    }
  }
  for (const std::string& m : wanted) {
    if (m == "heaptrack" && heaptrack_path().empty()) {
      std::fprintf(stderr, "heaptrack is not installed: its column is left out\n");
      continue;
    }
    modes.push_back(m);
  }
  // results[workload][mode] = runs
  std::map<std::string, std::map<std::string, std::vector<Run>>> results;
  std::map<std::string, std::set<std::string>> failed;  // [workload] = modes
  for (int round = 0; round < o.runs; ++round) {
    for (const Workload& w : workloads) {
      long ops = o.quick ? w.ops / 5 : w.ops;
      for (std::size_t i = 0; i < modes.size(); ++i) {
        const std::string& mode = modes[(i + static_cast<std::size_t>(round)) % modes.size()];
        if (failed[w.name].count(mode) != 0) {
          continue;
        }
        std::string capture = o.dir + "/" + w.name + "." + mode;
        std::filesystem::remove(capture + ".totals");
        Run r = run_program(command(w, mode, ops, o), w.env, measure::bench::address_space_limit(mode));
        if (r.status == 0 && !measure::bench::floor_counted(mode, capture + ".totals")) {
          std::fprintf(stderr, "%s under %s counted nothing: its block shadow could not be mapped\n", w.name.c_str(),
                       mode.c_str());
          r.status = -1;
        }
        if (r.status != 0) {
          // A tool that fails on a workload is a result too: its column says so, and it is
          // not run again.
          std::fprintf(stderr, "%s under %s failed with status %d (max RSS %ld MiB)\n", w.name.c_str(), mode.c_str(),
                       r.status, r.max_rss_kib / 1024);
          failed[w.name].insert(mode);
          continue;
        }
        results[w.name][mode].push_back(r);
        std::fprintf(stderr, "  round %d/%d  %-14s %-10s %7.3f s wall %7.3f s cpu %6ld MiB\n", round + 1, o.runs,
                     w.name.c_str(), mode.c_str(), r.wall_s, r.cpu_s, r.max_rss_kib / 1024);
      }
    }
  }
  std::printf("\nMedians of %d interleaved runs; ratio = median / native median (wall, and CPU in brackets)\n\n",
              o.runs);
  std::printf("%-14s %9s", "workload", "native s");
  for (const std::string& m : modes) {
    if (m != "native") {
      std::printf(" %17s", m.c_str());
    }
  }
  if (std::find(modes.begin(), modes.end(), "heaptrack") != modes.end() &&
      std::find(modes.begin(), modes.end(), "exact") != modes.end()) {
    std::printf(" %15s", "heaptrack/exact");
  }
  std::printf("\n");
  for (const Workload& w : workloads) {
    auto& by_mode = results[w.name];
    auto wall = [&](const std::string& m) { return median(by_mode[m], &Run::wall_s); };
    auto cpu = [&](const std::string& m) { return median(by_mode[m], &Run::cpu_s); };
    double native_wall = wall("native");
    double native_cpu = cpu("native");
    std::printf("%-14s %9.3f", w.name.c_str(), native_wall);
    for (const std::string& m : modes) {
      if (failed[w.name].count(m) != 0) {
        std::printf(" %17s", "failed");
      } else if (m != "native") {
        std::printf("   %6.2fx (%5.2fx)", wall(m) / native_wall, cpu(m) / native_cpu);
      }
    }
    if (by_mode.count("heaptrack") != 0 && by_mode.count("exact") != 0 && failed[w.name].empty()) {
      std::printf(" %14.2fx", wall("heaptrack") / wall("exact"));
    }
    std::printf("\n");
  }
}

// Toolkit bytes per live block: the capture's own figure (totals.toolkit_bytes) with many
// blocks held to the end, minus the same run holding none, over the blocks held.
void memory(const Options& o) {
  std::printf("Toolkit memory per live block (exact mode, the capture's toolkit_bytes)\n\n");
  std::printf("%12s %16s %16s %16s %14s %14s\n", "live blocks", "toolkit bytes", "pointer table", "block shadow",
              "per block", "RSS MiB");
  std::uint64_t base = 0;
  for (long hold : {0L, 250000L, 1000000L, 4000000L}) {
    std::string capture = o.dir + "/memory." + std::to_string(hold) + ".msr";
    Run r = run_program({MEASURE_BENCH_TOOL, "run", "-q", "-o", capture, "--",
                         std::string(MEASURE_BENCH_WORKLOADS) + "/churn", "--ops", "100000", "--hold",
                         std::to_string(hold)});
    if (r.status != 0) {
      std::fprintf(stderr, "memory run failed with status %d\n", r.status);
      std::exit(1);
    }
    measure::Capture c = measure::read_capture(capture);
    std::uint64_t table = c.diagnostic("pointer_table_bytes");
    std::uint64_t shadow = c.diagnostic("block_shadow_bytes");
    if (hold == 0) {
      base = c.toolkit_bytes;
    }
    double per_block = hold == 0 ? 0.0 : static_cast<double>(c.toolkit_bytes - base) / static_cast<double>(hold);
    std::printf("%12ld %16llu %16llu %16llu %14.1f %14ld\n", hold, static_cast<unsigned long long>(c.toolkit_bytes),
                static_cast<unsigned long long>(table), static_cast<unsigned long long>(shadow), per_block,
                r.max_rss_kib / 1024);
  }
}

void micro(const Options& o) {
  std::string bench = std::string(MEASURE_BENCH_HOTPATH);
  std::vector<std::string> modes;
  for (const std::string& m : o.modes) {
    if (m != "heaptrack") {
      modes.push_back(m);
    }
  }
  std::map<std::string, std::map<std::string, std::vector<double>>> ns;  // [benchmark][mode]
  std::vector<std::string> order;
  for (int round = 0; round < o.runs; ++round) {
    for (std::size_t i = 0; i < modes.size(); ++i) {
      const std::string& mode = modes[(i + static_cast<std::size_t>(round)) % modes.size()];
      std::string out = o.dir + "/micro." + mode + ".json";
      std::vector<std::string> argv = mode_prefix(mode, o.dir + "/micro." + mode, o);
      argv.insert(argv.end(), {bench, "--benchmark_out=" + out, "--benchmark_out_format=csv",
                               o.quick ? "--benchmark_min_time=0.05" : "--benchmark_min_time=0.3"});
      Run r = run_program(argv, {}, measure::bench::address_space_limit(mode));
      if (r.status != 0) {
        std::fprintf(stderr, "micro-benchmarks under %s failed with status %d\n", mode.c_str(), r.status);
        std::exit(1);
      }
      for (const auto& [name, value] : measure::bench::read_benchmark_csv(out)) {
        if (std::find(order.begin(), order.end(), name) == order.end()) {
          order.push_back(name);
        }
        ns[name][mode].push_back(value);
      }
      std::fprintf(stderr, "  round %d/%d  micro %-10s done\n", round + 1, o.runs, mode.c_str());
    }
  }
  std::printf("\nns per operation (median of %d runs; an operation is one allocation and its free)\n\n", o.runs);
  std::printf("%-40s", "benchmark");
  for (const std::string& m : modes) {
    std::printf(" %10s", m.c_str());
  }
  std::printf("\n");
  for (const std::string& name : order) {
    std::printf("%-40s", name.c_str());
    for (const std::string& m : modes) {
      std::vector<double>& v = ns[name][m];
      std::sort(v.begin(), v.end());
      std::printf(" %10.1f", v.empty() ? 0.0 : v[v.size() / 2]);
    }
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "measure_bench_overhead: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--runs") {
      o.runs = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--quick") {
      o.quick = true;
      o.runs = 3;
    } else if (a == "--workloads") {
      o.workloads = split(value());
    } else if (a == "--modes") {
      o.modes = split(value());
    } else if (a == "--memory") {
      o.memory = true;
    } else if (a == "--micro") {
      o.micro = true;
    } else if (a == "--instructions") {
      o.instructions = true;
    } else if (a == "--dir") {
      o.dir = value();
    } else if (a == "--baseline") {
      o.baseline = value();
    } else {
      std::fprintf(stderr,
                   "usage: measure_bench_overhead [--runs N] [--quick] [--workloads a,b] [--modes a,b] [--memory] "
                   "[--micro] [--instructions] [--dir DIR] [--baseline MEASURE]\n");
      return 2;
    }
  }
  for (const std::string& m : o.modes) {
    if (std::find(g_all_modes.begin(), g_all_modes.end(), m) == g_all_modes.end()) {
      std::fprintf(stderr, "measure_bench_overhead: unknown mode %s\n", m.c_str());
      return 2;
    }
  }
  bool own_dir = o.dir.empty();
  if (own_dir) {
    char templ[] = "/tmp/measure-bench-XXXXXX";
    if (mkdtemp(templ) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    o.dir = templ;
  }
  if (std::find(o.modes.begin(), o.modes.end(), "native") == o.modes.end()) {
    o.modes.insert(o.modes.begin(), "native");
  }
  if (o.memory) {
    memory(o);
  } else if (o.micro) {
    micro(o);
  } else if (o.instructions) {
    std::vector<std::string> modes;
    for (const std::string& m : o.modes) {
      if (m != "heaptrack" && m.rfind("old-", 0) != 0) {
        modes.push_back(m);
      }
    }
    measure::bench::instructions(selected_workloads(o), modes, o.dir);
  } else {
    overhead(o);
  }
  if (own_dir) {
    std::error_code ec;
    fs::remove_all(o.dir, ec);
  }
  return 0;
}
