#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <sys/ioctl.h>

#include "tools/terminal.h"

namespace measure::tools {

bool stderr_is_terminal() noexcept {
  return ::isatty(STDERR_FILENO) == 1;
}

int open_free_terminal() noexcept {
  if (::isatty(STDOUT_FILENO) == 1 || ::isatty(STDERR_FILENO) == 1) {
    return -1;
  }
  int fd = ::open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    return -1;  // no controlling terminal (a service, a CI job, setsid)
  }
  // A background job drawing on the terminal would scribble over whatever the shell runs.
  if (::tcgetpgrp(fd) != ::getpgrp()) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void write_all(int fd, std::string_view text) noexcept {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

unsigned terminal_columns(int fd) noexcept {
  winsize size{};
  if (::ioctl(fd, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) {
    return 80;
  }
  return size.ws_col;
}

void close_terminal(int fd) noexcept {
  if (fd >= 0) {
    ::close(fd);
  }
}

}  // namespace measure::tools
