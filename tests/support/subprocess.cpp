#include "support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <sys/resource.h>
#include <sys/wait.h>

extern char** environ;

namespace measure::test {

namespace {

double monotonic_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::vector<std::string> child_environment(const ProcessOptions& o) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string name(entry.substr(0, entry.find('=')));
    bool drop = false;
    for (const auto& [k, v] : o.env) {
      drop = drop || k == name;
    }
    for (const auto& u : o.unset) {
      drop = drop || u == name;
    }
    if (!drop) {
      env_strings.emplace_back(entry);
    }
  }
  for (const auto& [k, v] : o.env) {
    env_strings.push_back(k + "=" + v);
  }
  return env_strings;
}

// Bounds a run: kills the process group once the deadline has passed.
struct Deadline {
  pid_t group;
  double at;  // 0: none
  bool killed = false;
  double abandon_at = 0;

  // Milliseconds poll may wait; kills the group (once) when time is up.
  int poll_timeout(ProcessResult& result) {
    if (at <= 0) {
      return -1;
    }
    double now = monotonic_seconds();
    if (!killed && now >= at) {
      ::kill(-group, SIGKILL);
      ::kill(group, SIGKILL);
      killed = true;
      result.timed_out = true;
      abandon_at = now + 5;  // for descendants that left the group and keep the pipes open
    }
    double until = killed ? abandon_at : at;
    return std::max(0, static_cast<int>((until - now) * 1000) + 1);
  }
  bool abandoned() const { return killed && monotonic_seconds() >= abandon_at; }
};

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::vector<std::pair<std::string, std::string>>& env, const std::string& directory,
                          const std::vector<std::string>& unset) {
  ProcessOptions options;
  options.env = env;
  options.directory = directory;
  options.unset = unset;
  return run_process_with(argv, options);
}

ProcessResult run_process_with(const std::vector<std::string>& argv, const ProcessOptions& o) {
  std::vector<std::string> env_strings = child_environment(o);
  std::vector<char*> envp;
  for (auto& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) {
    argp.push_back(a.data());
  }
  argp.push_back(nullptr);

  int out_pipe[2];
  int err_pipe[2];
  int in_pipe[2] = {-1, -1};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 ||
      (o.input && ::pipe2(in_pipe, O_CLOEXEC) != 0)) {
    throw std::runtime_error("pipe failed");
  }
  bool own_group = o.timeout_seconds > 0;
  pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    if (own_group) {
      ::setpgid(0, 0);
    }
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    int input = o.input ? in_pipe[0] : ::open("/dev/null", O_RDONLY);
    ::dup2(input, 0);
    // Only standard input, output and error: what else the test runner holds (ctest leaves
    // descriptors open) is not the program's, and programs see their first free descriptor.
    ::closefrom(3);
    if (!o.directory.empty() && ::chdir(o.directory.c_str()) != 0) {
      ::_exit(126);
    }
    if (o.address_space_limit > 0) {
      rlimit limit{o.address_space_limit, o.address_space_limit};
      if (::setrlimit(RLIMIT_AS, &limit) != 0) {
        ::_exit(126);
      }
    }
    ::execvpe(args[0].c_str(), argp.data(), envp.data());
    ::_exit(127);
  }
  if (own_group) {
    ::setpgid(pid, pid);  // also here, so the group exists before any kill (EACCES after exec is fine)
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  // Writing to a pipe whose reader exited raises SIGPIPE: blocked while feeding the input, and
  // a pending one is taken back afterwards, so the test sees EPIPE instead of dying.
  sigset_t sigpipe;
  sigset_t old_mask;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  if (o.input) {
    ::close(in_pipe[0]);
    ::fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
    ::pthread_sigmask(SIG_BLOCK, &sigpipe, &old_mask);
  }
  ProcessResult result;
  Deadline deadline{pid, o.timeout_seconds > 0 ? monotonic_seconds() + o.timeout_seconds : 0};
  pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {o.input ? in_pipe[1] : -1, POLLOUT, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  std::size_t written = 0;
  if (o.input && o.input->empty()) {
    ::close(fds[2].fd);
    fds[2].fd = -1;
  }
  while ((fds[0].fd >= 0 || fds[1].fd >= 0 || fds[2].fd >= 0) && !deadline.abandoned()) {
    if (::poll(fds, 3, deadline.poll_timeout(result)) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        char buf[65536];
        ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          sinks[i]->append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
        }
      }
    }
    if (fds[2].fd >= 0 && (fds[2].revents & (POLLOUT | POLLHUP | POLLERR)) != 0) {
      ssize_t n = ::write(fds[2].fd, o.input->data() + written, o.input->size() - written);
      if (n > 0) {
        written += static_cast<std::size_t>(n);
      }
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == o.input->size()) {
        ::close(fds[2].fd);  // all written, or the reader is gone
        fds[2].fd = -1;
      }
    }
  }
  for (const pollfd& f : fds) {
    if (f.fd >= 0) {
      ::close(f.fd);
    }
  }
  if (o.input) {
    timespec zero{};
    while (::sigtimedwait(&sigpipe, nullptr, &zero) == SIGPIPE) {
    }
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  }
  int status = 0;
  for (;;) {
    pid_t done = ::waitpid(pid, &status, deadline.at > 0 ? WNOHANG : 0);
    if (done == pid || (done < 0 && errno != EINTR)) {
      break;
    }
    if (done == 0) {  // still running with its output closed: wait until the deadline
      deadline.poll_timeout(result);
      ::usleep(10000);
    }
  }
  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  } else {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

TempDir::TempDir() {
  std::string base = std::string(MEASURE_TEST_TMP) + "/measure-test-XXXXXX";
  std::filesystem::create_directories(MEASURE_TEST_TMP);
  std::vector<char> buf(base.begin(), base.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  m_path = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(m_path, ec);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string tool_path() {
  return MEASURE_TOOL;
}
std::string preload_path() {
  return (std::filesystem::path(MEASURE_TOOL).parent_path() / "../lib/libmeasure_preload.so")
      .lexically_normal()
      .string();
}
std::string fixture_path(const std::string& name) {
  return std::string(MEASURE_FIXTURE_DIR) + "/" + name;
}
std::string source_path(const std::string& relative) {
  return std::string(MEASURE_SOURCE_DIR) + "/" + relative;
}

int wait_for_pid_file(const std::string& path, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  do {
    std::ifstream in(path);
    int pid = 0;
    if (in >> pid && pid > 0) {
      return pid;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  return 0;
}

}  // namespace measure::test
