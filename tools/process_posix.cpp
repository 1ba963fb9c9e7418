#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "support/error.h"
#include "tools/process.h"

extern char** environ;

namespace measure::tools {
namespace {

volatile sig_atomic_t g_child = 0;

void forward_signal(int sig) {
  if (g_child > 0) {
    ::kill(g_child, sig);
  }
}

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string find_in_path(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    return is_executable_file(program) ? program : std::string();
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) {
      end = dirs.size();
    }
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (is_executable_file(candidate)) {
      return candidate;
    }
    start = end + 1;
  }
  return {};
}

std::string own_directory() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

ChildResult run_child(const std::vector<std::string>& argv,
                      const std::vector<std::pair<std::string, std::string>>& environment) {
  // Build everything the child needs before fork: after fork only async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& [key, value] : environment) {
      overridden = overridden || name == key;
    }
    if (!overridden) {
      env_strings.emplace_back(entry);
    }
  }
  for (const auto& [key, value] : environment) {
    env_strings.push_back(key + "=" + value);
  }
  std::vector<char*> envp;
  for (std::string& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (std::string& a : args) {
    argp.push_back(a.data());
  }
  argp.push_back(nullptr);
  std::string program = find_in_path(argv.at(0));
  // A script without "#!" is run by /bin/sh, as a shell (and execvp) would.
  std::string shell = "/bin/sh";
  std::vector<char*> shell_argp = {shell.data(), program.data()};
  shell_argp.insert(shell_argp.end(), argp.begin() + 1, argp.end());
  if (program.empty()) {
    throw UsageError(fmt::format("cannot run '{}': no such executable file{}", argv[0],
                                 argv[0].find('/') == std::string::npos ? " in PATH" : ""));
  }

  // A close-on-exec pipe tells the parent whether exec itself failed.
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    throw IoError(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
  }
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction forward {};
  forward.sa_handler = forward_signal;
  struct sigaction old_int {
  }, old_quit{}, old_term{}, old_hup{}, old_usr1{}, old_usr2{};
  ::sigaction(SIGINT, &ignore, &old_int);
  ::sigaction(SIGQUIT, &ignore, &old_quit);

  pid_t pid = ::fork();
  if (pid < 0) {
    int error = errno;
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGQUIT, &old_quit, nullptr);
    throw IoError(fmt::format("cannot start '{}': {}", argv[0], std::strerror(error)));
  }
  if (pid == 0) {
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGQUIT, &old_quit, nullptr);
    ::close(pipefd[0]);
    ::execve(program.c_str(), argp.data(), envp.data());
    if (errno == ENOEXEC) {
      ::execve(shell.c_str(), shell_argp.data(), envp.data());
      errno = ENOEXEC;
    }
    int error = errno;
    ssize_t ignored = ::write(pipefd[1], &error, sizeof error);
    (void)ignored;
    ::_exit(127);
  }
  g_child = pid;
  ::sigaction(SIGTERM, &forward, &old_term);
  ::sigaction(SIGHUP, &forward, &old_hup);
  ::sigaction(SIGUSR1, &forward, &old_usr1);
  ::sigaction(SIGUSR2, &forward, &old_usr2);
  ::close(pipefd[1]);
  int exec_error = 0;
  ssize_t n;
  do {
    n = ::read(pipefd[0], &exec_error, sizeof exec_error);
  } while (n < 0 && errno == EINTR);
  ::close(pipefd[0]);

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGQUIT, &old_quit, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  ::sigaction(SIGHUP, &old_hup, nullptr);
  ::sigaction(SIGUSR1, &old_usr1, nullptr);
  ::sigaction(SIGUSR2, &old_usr2, nullptr);
  if (n == sizeof exec_error) {
    throw UsageError(fmt::format("cannot run '{}': {}", argv[0], std::strerror(exec_error)));
  }
  ChildResult result;
  result.pid = pid;
  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  } else {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

}  // namespace measure::tools
