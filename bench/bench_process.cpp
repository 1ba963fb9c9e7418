#include "bench/bench_process.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>

#include <sys/resource.h>
#include <sys/wait.h>

namespace measure::bench {

Run run_program(const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env,
                std::uint64_t address_space) {
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  Run r;
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 1);
    dup2(null, 2);
    for (const auto& [name, value] : env) {
      setenv(name.c_str(), value.c_str(), 1);
    }
    if (address_space != 0) {
      rlimit limit{};
      limit.rlim_cur = limit.rlim_max = address_space;
      setrlimit(RLIMIT_AS, &limit);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  if (pid < 0) {
    return r;
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
            static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  r.max_rss_kib = usage.ru_maxrss;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

double median(std::vector<Run> runs, double Run::*field) {
  if (runs.empty()) {
    return 0;
  }
  std::sort(runs.begin(), runs.end(), [&](const Run& a, const Run& b) { return a.*field < b.*field; });
  return runs[runs.size() / 2].*field;
}

std::vector<std::pair<std::string, double>> read_benchmark_csv(const std::string& path) {
  // name,iterations,real_time,cpu_time,time_unit,... after a header line starting with "name,"
  std::vector<std::pair<std::string, double>> rows;
  std::ifstream in(path);
  std::string line;
  bool header = false;
  while (std::getline(in, line)) {
    if (!header) {
      header = line.rfind("name,", 0) == 0;
      continue;
    }
    if (line.empty() || line[0] != '"') {
      continue;
    }
    std::size_t close = line.find('"', 1);
    if (close == std::string::npos) {
      continue;
    }
    std::string name = line.substr(1, close - 1);
    std::size_t c1 = line.find(',', close);
    std::size_t c2 = c1 == std::string::npos ? c1 : line.find(',', c1 + 1);
    if (c2 == std::string::npos) {
      continue;
    }
    rows.emplace_back(name, std::strtod(line.c_str() + c2 + 1, nullptr));
  }
  return rows;
}

}  // namespace measure::bench
