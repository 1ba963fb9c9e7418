// Where the tools may draw status lines: standard error when it is a terminal, and the
// controlling terminal when the measured program's output cannot be on it. The only
// terminal-specific code in the tools (POSIX: terminal_posix.cpp).
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace measure::tools {

/// True when standard error is a terminal (not a file, pipe or /dev/null).
bool stderr_is_terminal() noexcept;

/// The controlling terminal, opened for writing, when something can be drawn on it without
/// mixing into a program's output: standard output and standard error are not terminals
/// (the program started with them writes elsewhere) and this process is in the terminal's
/// foreground process group (not a background job). -1 otherwise. The caller closes it.
int open_free_terminal() noexcept;

/// Writes all of `text` to `fd`, retrying short writes and EINTR; errors are ignored (a
/// status line is never worth failing a command for).
void write_all(int fd, std::string_view text) noexcept;

/// The width of the terminal `fd` in columns; 80 when it cannot be told.
unsigned terminal_columns(int fd) noexcept;

/// Closes a descriptor from open_free_terminal().
void close_terminal(int fd) noexcept;

/// A terminal's size in character cells.
struct TerminalSize {
  unsigned columns = 80;
  unsigned lines = 24;
};

/// A full-screen view on the controlling terminal: the terminal's alternate screen (the
/// shell's screen comes back as it was), no cursor, and keys read one at a time without echo
/// or waiting for Enter. Ctrl-C still interrupts. Restores the terminal when destroyed.
class Screen {
 public:
  /// Where a Screen may draw.
  enum class Where {
    standard_output,  // the terminal standard output is on
    free_terminal,    // the controlling terminal, when neither standard output nor standard
                      // error is on it (a program writing there would draw over the view)
  };
  /// Takes the terminal `where` allows; open() is false when there is none (output redirected,
  /// no controlling terminal, a background job), and the terminal is not touched. With
  /// `catch_signals`, SIGINT, SIGTERM and SIGHUP no longer end the process while the Screen
  /// exists: interrupted() says one came, and the caller leaves (restoring the terminal on
  /// the way).
  Screen(Where where, bool catch_signals);
  ~Screen();
  Screen(const Screen&) = delete;
  Screen& operator=(const Screen&) = delete;

  bool open() const noexcept { return m_fd >= 0; }
  TerminalSize size() const noexcept;
  /// Replaces what the screen shows with `text` (lines of at most size().columns cells).
  void draw(std::string_view text) noexcept;
  /// A key pressed within `timeout_ms` milliseconds (its byte), or -1 when none was (or a
  /// signal interrupted the wait). Without a terminal: sleeps `timeout_ms`, or until a
  /// caught signal, and returns -1.
  int read_key(int timeout_ms) noexcept;
  /// Restores the terminal and leaves `text` on the shell's screen (the view's last state).
  void leave(std::string_view text) noexcept;
  /// Whether SIGINT, SIGTERM or SIGHUP came while a Screen caught them.
  static bool interrupted() noexcept;

 private:
  struct SavedMode;
  int m_fd = -1;
  std::unique_ptr<SavedMode> m_saved;
};

/// Terminal sequences: return to the start of the line and erase it.
inline constexpr std::string_view erase_line = "\r\033[K";

/// `text` cut to fit in one line of `columns` (a wrapped line cannot be redrawn with \r).
std::string fit_line(std::string_view text, unsigned columns);

}  // namespace measure::tools
