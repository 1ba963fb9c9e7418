#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>

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

std::string secure_execution(const std::string& path) {
  struct stat st {};
  struct statvfs fs {};
  if (::stat(path.c_str(), &st) != 0 || (::statvfs(path.c_str(), &fs) == 0 && (fs.f_flag & ST_NOSUID) != 0) ||
      ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) {
    return {};
  }
  // The loader runs a program securely when exec changes its effective user or group away
  // from the real one (the kernel's AT_SECURE); the set-group-ID bit counts only with the
  // group's execute bit (without it, it asks for mandatory locking).
  if ((st.st_mode & S_ISUID) != 0 && st.st_uid != ::getuid()) {
    const passwd* user = ::getpwuid(st.st_uid);
    return fmt::format("set-user-ID (it runs as user {})",
                       user != nullptr ? std::string(user->pw_name) : fmt::to_string(st.st_uid));
  }
  if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) && st.st_gid != ::getgid()) {
    const group* g = ::getgrgid(st.st_gid);
    return fmt::format("set-group-ID (it runs as group {})",
                       g != nullptr ? std::string(g->gr_name) : fmt::to_string(st.st_gid));
  }
  // Capabilities raise the privileges of any user but root, who has them all already.
  if (::getuid() != 0 && ::getxattr(path.c_str(), "security.capability", nullptr, 0) > 0) {
    return "given file capabilities";
  }
  return {};
}

StatusDirectory::StatusDirectory(const char* prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = fmt::format("{}/{}.XXXXXX", tmp != nullptr && *tmp == '/' ? tmp : "/tmp", prefix);
  if (::mkdtemp(templ.data()) != nullptr) {
    m_path = templ;
  }
}

FileLock::FileLock(const std::string& path, std::chrono::steady_clock::time_point deadline) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return;
  }
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if ((errno != EWOULDBLOCK && errno != EINTR) || std::chrono::steady_clock::now() > deadline) {
      ::close(fd);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  m_fd = fd;
}

FileLock::~FileLock() {
  if (m_fd >= 0) {
    ::close(m_fd);  // releases the lock
  }
}

StatusDirectory::~StatusDirectory() {
  std::error_code ec;
  if (!m_path.empty()) {
    std::filesystem::remove_all(m_path, ec);
  }
}

std::vector<int> StatusDirectory::failures(int pid) const {
  std::vector<int> errors;
  std::error_code ec;
  std::string prefix = fmt::format("{}.", pid);
  for (const auto& entry : std::filesystem::directory_iterator(m_path, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name.size() > prefix.size() &&
        std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), name.end(),
                    [](char c) { return c >= '0' && c <= '9'; }) &&
        name.size() - prefix.size() < 6) {
      errors.push_back(std::stoi(name.substr(prefix.size())));
    }
  }
  std::sort(errors.begin(), errors.end());
  return errors;
}

ChildResult run_child(const std::vector<std::string>& argv,
                      const std::vector<std::pair<std::string, std::string>>& environment,
                      const std::function<void(int pid)>& started) {
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
    env_strings.push_back(key);
    env_strings.back().append("=").append(value);
  }
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (std::string& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  argp.reserve(args.size() + 1);
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
  if (n == 0 && started) {
    started(pid);
  }

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

std::vector<std::string> executable_files(int pid) {
  std::vector<std::string> files;
  std::ifstream maps(fmt::format("/proc/{}/maps", pid));
  std::string line;
  while (std::getline(maps, line)) {
    // "start-end perms offset dev inode   path": the path starts at the first '/' after the inode.
    std::size_t perms = line.find(' ');
    std::size_t path = line.find('/');
    if (perms == std::string::npos || path == std::string::npos || perms + 4 >= line.size() || line[perms + 3] != 'x' ||
        line.ends_with(" (deleted)")) {
      continue;
    }
    std::string file = line.substr(path);
    if (std::find(files.begin(), files.end(), file) == files.end()) {
      files.push_back(std::move(file));
    }
  }
  return files;
}

std::string started_environment_value(int pid, const std::string& name) {
  std::ifstream environ(fmt::format("/proc/{}/environ", pid), std::ios::binary);
  std::string entry;
  std::string prefix = name + "=";
  while (std::getline(environ, entry, '\0')) {
    if (entry.rfind(prefix, 0) == 0) {
      return entry.substr(prefix.size());
    }
  }
  return {};
}

bool process_running(int pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(stat, line)) {
    return false;
  }
  // "pid (comm) S ...": the state follows the last ')' (a name may hold parentheses).
  std::size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z' && line[close + 2] != 'X';
}

}  // namespace measure::tools
