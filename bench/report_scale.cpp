// Scale benchmark of the cold side: `measure report` and `measure diff` on synthetic captures
// of many distinct stacks (100,000 by default, 20 to 40 frames each over a few modules).
// Two variants: modules missing on disk (frames stay module+offset, as for a capture from
// another machine), and frames that resolve into this benchmark's own executable, which has
// debug info, so the cost of symbolizing with libdw is measured too. Each command runs
// several times; the median wall time and the largest RSS (wait4's rusage of the child) are
// printed. A benchmark, not a test: the machine may be shared and noisy.
//
//   measure_bench_reports [--stacks N] [--runs N] [--tool PATH] [--dir DIR] [--write-only 1]
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "format/capture.h"

namespace {

using measure::Capture;
using measure::Metrics;
using measure::Module;

struct Options {
  std::size_t stacks = 100000;
  int runs = 5;
  std::string tool = MEASURE_BENCH_TOOL;
  std::string dir;
  bool write_only = false;  // write the captures into --dir and stop (for profiling)
};

// The executable of this process as a capture module: path, build-id, bias, PT_LOAD segments.
Module self_module() {
  Module m;
  m.path = std::filesystem::read_symlink("/proc/self/exe").string();
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto* module = static_cast<Module*>(data);
        module->load_bias = info->dlpi_addr;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type == PT_LOAD) {
            module->segments.push_back({ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_flags});
          } else if (ph.p_type == PT_NOTE) {
            auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
            const unsigned char* end = p + ph.p_memsz;
            while (p + sizeof(ElfW(Nhdr)) <= end) {
              auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
              const unsigned char* name = p + sizeof(ElfW(Nhdr));
              const unsigned char* desc = name + ((note->n_namesz + 3) & ~3U);
              if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
                module->build_id.assign(reinterpret_cast<const char*>(desc), note->n_descsz);
              }
              p = desc + ((note->n_descsz + 3) & ~3U);
            }
          }
        }
        return 1;  // the first entry is the executable
      },
      &m);
  return m;
}

// A pool of return addresses inside the executable segments of `modules`.
std::vector<std::uint64_t> address_pool(const std::vector<Module>& modules, std::size_t n, std::mt19937_64& rng) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (const Module& m : modules) {
    for (const measure::Segment& s : m.segments) {
      if ((s.flags & PF_X) != 0) {
        ranges.emplace_back(m.load_bias + s.vaddr, s.memsz);
      }
    }
  }
  std::vector<std::uint64_t> pool(n);
  for (std::uint64_t& a : pool) {
    auto [start, size] = ranges[rng() % ranges.size()];
    a = start + 1 + rng() % (size - 1);
  }
  return pool;
}

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

// Stacks shaped like a program's: outer frames (main, the event loop ...) shared by many
// stacks, inner frames ever more specific; level k is shared by 2^(17-k) neighbouring stacks.
Capture make_capture(std::vector<Module> modules, std::size_t stacks, std::uint64_t seed, std::size_t variant_of) {
  std::mt19937_64 rng(seed);
  Capture c;
  c.program.executable = modules.front().path;
  c.program.arguments = {"bench-program", fmt::format("--seed={}", seed)};
  c.program.pid = 1000 + seed;
  c.program.depth = 64;
  c.program.flags = 1;
  c.program.exit = measure::ExitInfo{0, 0};
  std::mt19937_64 pool_rng(7);  // the same addresses in both captures of a diff
  std::vector<std::uint64_t> pool = address_pool(modules, 20000, pool_rng);
  c.modules = std::move(modules);
  c.stacks.emplace_back();  // stack 0: the empty stack
  for (std::size_t i = 0; i < stacks; ++i) {
    // A diff's second capture: 2% of the stacks are different ones, the rest the same.
    std::uint64_t id = variant_of != 0 && i % 50 == 0 ? i + variant_of : i;
    std::size_t depth = 20 + mix(id * 3 + 1) % 21;
    std::vector<std::uint64_t> frames;
    for (std::size_t level = 0; level < depth; ++level) {
      std::uint64_t group = level < 17 ? id >> (17 - level) : id;
      frames.push_back(pool[mix(group * 64 + level) % pool.size()]);
    }
    std::reverse(frames.begin(), frames.end());  // innermost first
    c.stacks.push_back(measure::Stack{0, 0, frames});
  }
  for (std::uint32_t i = 1; i < c.stacks.size(); ++i) {
    std::uint64_t count = 1 + rng() % 1000;
    std::uint64_t size = 16 + rng() % 4096;
    if (variant_of != 0 && i % 10 == 0) {
      count += count / 10;  // 10% of the sites grew
    }
    std::uint64_t freed = count - rng() % (count / 10 + 1);
    Metrics m{count, count * size, freed, freed * size, count - freed, (count - freed) * size, 0, rng() % (count + 1)};
    m.peak_bytes = m.live_bytes + (rng() % 3) * size;
    c.sites.push_back({i, m});
    c.totals += m;
  }
  return c;
}

struct Result {
  double median_s = 0;
  double max_rss_mib = 0;
  int status = 0;
};

Result measure_command(const std::vector<std::string>& argv, int runs) {
  std::vector<double> times;
  Result r;
  for (int i = 0; i < runs; ++i) {
    std::fflush(stdout);  // the child would write our buffered lines again
    auto start = std::chrono::steady_clock::now();
    pid_t pid = fork();
    if (pid == 0) {
      std::vector<char*> args;
      for (const std::string& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
      }
      args.push_back(nullptr);
      if (freopen("/dev/null", "w", stdout) == nullptr) {
        _exit(126);
      }
      execv(args[0], args.data());
      _exit(127);
    }
    int status = 0;
    rusage usage{};
    wait4(pid, &status, 0, &usage);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    r.max_rss_mib = std::max(r.max_rss_mib, static_cast<double>(usage.ru_maxrss) / 1024.0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::sort(times.begin(), times.end());
  r.median_s = times[times.size() / 2];
  return r;
}

std::vector<std::string> tool_argv(const Options& o, const std::vector<std::string>& command) {
  std::vector<std::string> argv = {o.tool};
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

void print_result(const std::vector<std::string>& command, const Result& r) {
  std::string shown = "measure";
  for (const std::string& a : command) {
    shown += " " + (a.find('/') == std::string::npos ? a : std::filesystem::path(a).filename().string());
  }
  fmt::print("  {:<58} {:>9.3f} {:>6.1f} MiB{}\n", shown, r.median_s, r.max_rss_mib,
             r.status == 0 ? "" : fmt::format("  (exit {})", r.status));
}

std::size_t distinct_stacks(const Capture& c) {
  std::set<std::vector<std::uint64_t>> seen;
  for (const measure::Stack& s : c.stacks) {
    seen.insert(s.frames.to_vector());
  }
  return seen.size() - 1;  // without the empty stack
}

// The html pages in headless Chromium (bench/html/page_timing.mjs, with Node and Debian's
// chromium): file size, the first paint after navigation, the time until every view is ready,
// and a metric switch, medians.
void time_pages(const Options& o, const std::string& name, const std::string& old_path, const std::string& new_path) {
  if (!std::filesystem::exists("/usr/bin/chromium") || std::system("command -v node >/dev/null 2>&1") != 0) {
    fmt::print("  (html pages not timed: node or /usr/bin/chromium is missing)\n");
    return;
  }
  for (bool diff : {false, true}) {
    std::string page = fmt::format("{}/{}-{}.html", o.dir, name, diff ? "diff" : "report");
    std::vector<std::string> command = diff ? std::vector<std::string>{"diff", old_path, new_path, "-o", page}
                                            : std::vector<std::string>{"report", old_path, "-o", page};
    command.insert(command.end(), {"--format", "html"});
    measure_command(tool_argv(o, command), 1);
    std::vector<double> paint;
    std::vector<double> ready;
    std::vector<double> change;
    for (int i = 0; i < o.runs; ++i) {
      std::string script = std::string(MEASURE_BENCH_SOURCE_DIR) + "/html/page_timing.mjs";
      std::FILE* out = popen(fmt::format("node '{}' '{}'", script, page).c_str(), "r");
      if (out == nullptr) {
        return;
      }
      char line[4096] = {};
      std::size_t n = std::fread(line, 1, sizeof line - 1, out);
      line[n] = '\0';
      pclose(out);
      double first = 0;
      double all = 0;
      double metric = 0;
      if (const char* p = std::strstr(line, "\"first_paint_ms\":")) {
        first = std::strtod(p + 17, nullptr);
      }
      if (const char* p = std::strstr(line, "\"ready_ms\":")) {
        all = std::strtod(p + 11, nullptr);
      }
      if (const char* p = std::strstr(line, "\"switch_ms\":")) {
        metric = std::strtod(p + 12, nullptr);
      }
      paint.push_back(first);
      ready.push_back(all);
      change.push_back(metric);
    }
    std::sort(paint.begin(), paint.end());
    std::sort(ready.begin(), ready.end());
    std::sort(change.begin(), change.end());
    fmt::print("  {:<58} {:.1f} MiB, first paint {:.2f} s, ready {:.2f} s, metric switch {:.0f} ms\n",
               diff ? "html diff page" : "html report page",
               static_cast<double>(std::filesystem::file_size(page)) / (1 << 20), paint[paint.size() / 2] / 1000,
               ready[ready.size() / 2] / 1000, change[change.size() / 2]);
  }
}

void run_variant(const Options& o, const std::string& name, const std::vector<Module>& modules) {
  Capture before = make_capture(modules, o.stacks, 1, 0);
  Capture after = make_capture(modules, o.stacks, 2, o.stacks * 7);
  std::string old_path = fmt::format("{}/{}-old.msr", o.dir, name);
  std::string new_path = fmt::format("{}/{}-new.msr", o.dir, name);
  measure::write_capture(before, old_path);
  measure::write_capture(after, new_path);
  std::size_t frames = 0;
  for (const measure::Stack& s : before.stacks) {
    frames += s.frames.size();
  }
  if (o.write_only) {
    fmt::print("wrote {} and {}\n", old_path, new_path);
    return;
  }
  fmt::print("\n{}: {} distinct stacks, {} frames, capture {:.1f} MiB\n", name, distinct_stacks(before), frames,
             static_cast<double>(std::filesystem::file_size(old_path)) / (1 << 20));
  fmt::print("  {:<58} {:>9} {:>10}\n", "command", "median s", "max RSS");
  std::vector<std::vector<std::string>> commands = {
      {"report", old_path},
      {"report", old_path, "--by", "function", "--format", "json"},
      {"report", old_path, "--by", "stack", "--top", "0", "--format", "csv"},
      {"report", old_path, "--format", "folded"},
      {"report", old_path, "--format", "svg"},
      {"report", old_path, "--format", "pprof"},
      {"report", old_path, "--format", "html"},
      {"diff", old_path, new_path},
      {"diff", old_path, new_path, "--by", "function", "--format", "json", "--top", "0"},
      {"diff", old_path, new_path, "--format", "html"},
  };
  for (const auto& command : commands) {
    print_result(command, measure_command(tool_argv(o, command), o.runs));
  }
  time_pages(o, name, old_path, new_path);
  if (name != "debug-info") {
    return;
  }
  // Storing the symbols in the capture (what `measure run` does after the program ends), each
  // run on a fresh copy, then reports and diffs that read them instead of the module.
  std::string stored_old = fmt::format("{}/{}-stored-old.msr", o.dir, name);
  std::string stored_new = fmt::format("{}/{}-stored-new.msr", o.dir, name);
  std::vector<double> times;
  Result symbolize;
  for (int i = 0; i < o.runs; ++i) {
    std::filesystem::copy_file(old_path, stored_old, std::filesystem::copy_options::overwrite_existing);
    symbolize = measure_command(tool_argv(o, {"symbolize", "-q", stored_old}), 1);
    times.push_back(symbolize.median_s);
  }
  std::sort(times.begin(), times.end());
  symbolize.median_s = times[times.size() / 2];
  print_result({"symbolize", stored_old}, symbolize);
  std::filesystem::copy_file(new_path, stored_new, std::filesystem::copy_options::overwrite_existing);
  measure_command(tool_argv(o, {"symbolize", "-q", stored_new}), 1);
  fmt::print("  capture with stored symbols: {:.1f} MiB (without: {:.1f} MiB)\n",
             static_cast<double>(std::filesystem::file_size(stored_old)) / (1 << 20),
             static_cast<double>(std::filesystem::file_size(old_path)) / (1 << 20));
  for (const auto& command :
       std::vector<std::vector<std::string>>{{"report", stored_old}, {"diff", stored_old, stored_new}}) {
    print_result(command, measure_command(tool_argv(o, command), o.runs));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--stacks") {
      o.stacks = std::stoul(argv[i + 1]);
    } else if (a == "--runs") {
      o.runs = std::stoi(argv[i + 1]);
    } else if (a == "--tool") {
      o.tool = argv[i + 1];
    } else if (a == "--dir") {
      o.dir = argv[i + 1];
    } else if (a == "--write-only") {
      o.write_only = std::string(argv[i + 1]) == "1";
    } else {
      fmt::print(stderr, "usage: {} [--stacks N] [--runs N] [--tool PATH] [--dir DIR] [--write-only 1]\n", argv[0]);
      return 2;
    }
  }
  std::filesystem::path temporary;
  if (o.dir.empty()) {
    temporary = std::filesystem::temp_directory_path() / fmt::format("measure-bench-{}", getpid());
    std::filesystem::create_directories(temporary);
    o.dir = temporary.string();
  }
  fmt::print("measure report/diff at scale: {} stacks, median of {} runs, tool {}\n", o.stacks, o.runs, o.tool);

  std::vector<Module> missing;
  for (int i = 0; i < 4; ++i) {
    Module m;
    m.path = i == 0 ? "/nonexistent/bench/server" : fmt::format("/nonexistent/bench/lib{}.so", i);
    m.build_id = std::string("\xbe\xef", 2) + static_cast<char>(i);
    m.load_bias = 0x7f0000000000ULL + static_cast<std::uint64_t>(i) * 0x1000000;
    m.segments = {{0, 0x400000, 0, PF_R | PF_X}};
    missing.push_back(m);
  }
  run_variant(o, "missing-modules", missing);
  run_variant(o, "debug-info", {self_module()});
  if (!temporary.empty()) {
    std::filesystem::remove_all(temporary);
  }
  return 0;
}
