#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <iterator>
#include <string>

#include <sys/ioctl.h>

#include "tools/terminal.h"

namespace measure::tools {

bool stderr_is_terminal() noexcept {
  return ::isatty(STDERR_FILENO) == 1;
}

namespace {

// The controlling terminal opened with `flags`, when this process is in its foreground group;
// -1 otherwise.
int open_foreground_terminal(int flags) noexcept {
  int fd = ::open("/dev/tty", flags | O_NOCTTY | O_CLOEXEC);
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

}  // namespace

int open_free_terminal() noexcept {
  if (::isatty(STDOUT_FILENO) == 1 || ::isatty(STDERR_FILENO) == 1) {
    return -1;
  }
  return open_foreground_terminal(O_WRONLY);
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

namespace {

volatile std::sig_atomic_t g_interrupted = 0;

void note_interrupt(int) {
  g_interrupted = 1;
}

constexpr int caught_signals[] = {SIGINT, SIGTERM, SIGHUP};

}  // namespace

struct Screen::SavedMode {
  termios mode;
  bool signals = false;
  struct sigaction old[std::size(caught_signals)];
};

Screen::Screen(Where where, bool catch_signals) : m_saved(std::make_unique<SavedMode>()) {
  if (catch_signals) {
    // No SA_RESTART: the wait for a key returns at once.
    struct sigaction note {};
    note.sa_handler = note_interrupt;
    ::sigemptyset(&note.sa_mask);
    for (std::size_t i = 0; i < std::size(caught_signals); ++i) {
      ::sigaction(caught_signals[i], &note, &m_saved->old[i]);
    }
    m_saved->signals = true;
  }
  bool on_output = ::isatty(STDOUT_FILENO) == 1;
  if (where == Where::standard_output ? !on_output : on_output || ::isatty(STDERR_FILENO) == 1) {
    return;
  }
  int fd = open_foreground_terminal(O_RDWR);
  if (fd < 0) {
    return;
  }
  if (::tcgetattr(fd, &m_saved->mode) != 0) {
    ::close(fd);
    return;
  }
  termios raw = m_saved->mode;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl-C interrupts
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  ::tcsetattr(fd, TCSANOW, &raw);
  m_fd = fd;
  write_all(m_fd, "\033[?1049h\033[?25l");  // the alternate screen, no cursor
}

Screen::~Screen() {
  leave({});
  if (m_saved->signals) {
    for (std::size_t i = 0; i < std::size(caught_signals); ++i) {
      ::sigaction(caught_signals[i], &m_saved->old[i], nullptr);
    }
  }
}

void Screen::leave(std::string_view text) noexcept {
  if (m_fd < 0) {
    return;
  }
  write_all(m_fd, "\033[?25h\033[?1049l");
  ::tcsetattr(m_fd, TCSANOW, &m_saved->mode);
  write_all(m_fd, text);
  ::close(m_fd);
  m_fd = -1;
}

bool Screen::interrupted() noexcept {
  return g_interrupted != 0;
}

TerminalSize Screen::size() const noexcept {
  winsize size{};
  if (m_fd < 0 || ::ioctl(m_fd, TIOCGWINSZ, &size) != 0 || size.ws_col == 0 || size.ws_row == 0) {
    return TerminalSize{};
  }
  return TerminalSize{size.ws_col, size.ws_row};
}

void Screen::draw(std::string_view text) noexcept {
  std::string out = "\033[H";  // home, then each line erased to its end, then the rest below
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    std::string_view line = text.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
    out.append(line).append("\033[K");
    if (end == std::string_view::npos) {
      break;
    }
    out.append("\r\n");
    at = end + 1;
  }
  out.append("\033[J");
  write_all(m_fd, out);
}

int Screen::read_key(int timeout_ms) noexcept {
  pollfd p{m_fd, POLLIN, 0};
  if (::poll(&p, m_fd < 0 ? 0 : 1, timeout_ms) <= 0) {
    return -1;
  }
  unsigned char key = 0;
  return ::read(m_fd, &key, 1) == 1 ? key : -1;
}

void close_terminal(int fd) noexcept {
  if (fd >= 0) {
    ::close(fd);
  }
}

}  // namespace measure::tools
