// measure_bench_attach: what `measure attach` costs a running program against `measure run`
// in the same mode. The churn workload waits at a gate (a file) and then times its own work,
// so a process recorded by an attach is timed exactly like one started under `measure run`
// and one run natively: from the gate's opening to the end of the work. Configurations are
// interleaved round by round; the table gives the medians as ratios to native.
//
//   measure_bench_attach [--runs N] [--ops N] [--threads N]
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <sys/wait.h>

namespace {

namespace fs = std::filesystem;

// Starts `argv` with its output discarded (into `log` when given); returns its pid.
pid_t start(const std::vector<std::string>& argv, const std::string& log = "") {
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(log.empty() ? "/dev/null" : log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(out, 2);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

int finish(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string text_of(const fs::path& path) {
  std::ifstream in(path);
  std::string text;
  for (std::string line; std::getline(in, line);) {
    text += line + '\n';
  }
  return text;
}

void open_gate(const fs::path& gate) {
  std::ofstream(gate) << "go\n";
}

// The work's seconds, as the workload wrote them; -1 when it failed.
double work_seconds(const fs::path& gate, int status) {
  std::ifstream in(gate.string() + ".done");
  double seconds = -1;
  return status == 0 && (in >> seconds) ? seconds : -1;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  std::string ops = "5000000";
  std::string threads = "1";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string option = argv[i];
    if (option == "--runs") {
      runs = std::atoi(argv[i + 1]);
    } else if (option == "--ops") {
      ops = argv[i + 1];
    } else if (option == "--threads") {
      threads = argv[i + 1];
    } else {
      fmt::print(stderr, "usage: measure_bench_attach [--runs N] [--ops N] [--threads N]\n");
      return 2;
    }
  }
  const std::string tool = MEASURE_BENCH_TOOL;
  const std::string churn = std::string(MEASURE_BENCH_WORKLOADS) + "/churn";
  fs::path dir = fs::temp_directory_path() / fmt::format("measure-bench-attach.{}", getpid());
  fs::create_directories(dir);
  std::map<std::string, std::vector<double>> seconds;
  const std::vector<std::string> modes = {"exact", "sampled", "counters"};

  for (int round = 0; round < runs; ++round) {
    for (const std::string& mode : modes) {
      for (const char* how : {"native", "run", "attach"}) {
        std::string name = std::string(how) == "native" ? "native" : fmt::format("{} {}", how, mode);
        if (name == "native" && mode != modes.front()) {
          continue;
        }
        fs::path gate = dir / "gate";
        fs::remove(gate);
        fs::remove(gate.string() + ".done");
        std::vector<std::string> workload = {churn, "--ops", ops, "--threads", threads, "--gate", gate.string()};
        int status = 0;
        if (name == "native") {
          pid_t pid = start(workload);
          open_gate(gate);
          status = finish(pid);
        } else if (std::string(how) == "run") {
          std::vector<std::string> run = {tool, "run", "-q", "--mode", mode, "-o", (dir / "run.msr").string(), "--"};
          run.insert(run.end(), workload.begin(), workload.end());
          pid_t pid = start(run);
          open_gate(gate);
          status = finish(pid);
        } else {
          pid_t pid = start(workload);
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          fs::path log = dir / "attach.log";
          fs::remove(log);  // the previous attach's says "recording" too
          pid_t attach = start(
              {tool, "attach", std::to_string(pid), "--mode", mode, "-o", (dir / "attach.msr").string()}, log.string());
          // Recording has begun once the attach says so.
          auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
          while (text_of(log).find("recording process") == std::string::npos &&
                 std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
          }
          open_gate(gate);
          status = finish(pid);
          if (finish(attach) != 0) {
            fmt::print(stderr, "attach failed: {}", text_of(log));
            status = 1;
          }
        }
        double s = work_seconds(gate, status);
        if (s < 0) {
          fmt::print(stderr, "{}: failed (status {})\n", name, status);
          continue;
        }
        seconds[name].push_back(s);
      }
    }
  }
  fs::remove_all(dir);

  double native = median(seconds["native"]);
  fmt::print("churn --ops {} --threads {}: the work's own time, median of {} interleaved rounds\n", ops, threads, runs);
  fmt::print("native {:.3f} s\n\n", native);
  fmt::print("{:<10} {:>12} {:>12} {:>14}\n", "mode", "run", "attach", "attach / run");
  for (const std::string& mode : modes) {
    double run = median(seconds["run " + mode]);
    double attach = median(seconds["attach " + mode]);
    fmt::print("{:<10} {:>11.2f}x {:>11.2f}x {:>14.2f}\n", mode, run / native, attach / native, attach / run);
  }
  return 0;
}
